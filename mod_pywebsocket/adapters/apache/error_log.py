"""Apache's log lines as JSON lines: the piped logger of ``WS_LOG_FORMAT=json``.

``python3 -m mod_pywebsocket.adapters.apache.error_log [error|access]`` reads the lines
Apache writes to a piped log (``ErrorLog "|..."``, ``CustomLog "|..."``) and writes
each as one JSON object to its standard error, which is the container's (Apache gives
a piped logger its own stderr, measured here); access lines go to the container's stdout.

- ``error``: lines already JSON (the package's own, which the handlers' processes
  write straight to the error log's descriptor) pass as they are; Apache's own, in
  conf/httpd.conf's ``ErrorLogFormat`` (``[time] [module:level] [pid P:tid T] message``),
  become ``{"time", "level", "logger": "apache.<module>", "message", "pid"}``. Apache
  escapes the message (``\\xhh`` for bytes outside printable ASCII, ``\\\\``, ``\\t``), but
  not its quotes, which is why its lines cannot be JSON by ``ErrorLogFormat`` alone.
- ``access``: the ``LogFormat`` is a JSON object already; Apache escapes quotes and
  backslashes JSON's way but writes other bytes as ``\\xhh``, which JSON lacks: those
  become ``\\u00hh``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

_ERROR_LINE = re.compile(
    rb"\[(?P<time>[^\]]*)\] \[(?P<module>[^:\]]*):(?P<level>[^\]]*)\] \[pid (?P<pid>\d+)(?::tid \d+)?\] ?(?P<rest>.*)"
)
_APACHE_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)")
_SIMPLE = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"\\": b"\\", b'"': b'"'}
_HEX_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


def unescape(text: bytes) -> str:
    """Apache's escaped message as the text it stood for (bytes decoded as UTF-8)."""

    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code.startswith(b"x") and len(code) == 3:
            return bytes([int(code[1:], 16)])
        return _SIMPLE.get(code, b"\\" + code)

    return _APACHE_ESCAPE.sub(one, text).decode("utf-8", "replace")


def error_line(line: bytes) -> str:
    """One line of Apache's error log as a JSON line."""
    line = line.rstrip(b"\r\n")
    if line.startswith(b"{"):
        return line.decode("utf-8", "replace")
    match = _ERROR_LINE.fullmatch(line)
    entry: dict[str, Any]
    if match is None:
        entry = {"level": "info", "logger": "apache", "message": unescape(line)}
    else:
        module = match.group("module").decode("ascii", "replace").strip() or "-"
        rest = match.group("rest")
        # ErrorLogFormat's "%7F: %E: [client %a] " parts appear only when they apply.
        entry = {
            "time": _iso_time(match.group("time").decode("ascii", "replace")),
            "level": match.group("level").decode("ascii", "replace").strip(),
            "logger": "apache" if module == "-" else f"apache.{module}",
            "message": unescape(rest),
            "pid": int(match.group("pid")),
        }
    return json.dumps(entry, ensure_ascii=True)


def access_line(line: bytes) -> str:
    """One access-log line (a JSON object with Apache's ``\\xhh`` escapes) as valid JSON."""
    line = line.rstrip(b"\r\n")
    fixed = _HEX_ESCAPE.sub(lambda m: b"\\u00" + m.group(1), line)
    try:
        json.loads(fixed)
    except ValueError:
        return json.dumps({"level": "info", "logger": "apache.access", "message": unescape(line)})
    return fixed.decode("ascii", "replace")


def _iso_time(apache_time: str) -> str:
    """``2026-12-06 18:20:34.614584`` (ErrorLogFormat's ``%{cu}t``, UTC) in ISO 8601."""
    date, _, clock = apache_time.partition(" ")
    if not clock:
        return apache_time
    whole, _, fraction = clock.partition(".")
    return f"{date}T{whole}.{(fraction + '000')[:3]}Z"


#: Where access lines go: the container's stdout, which is its first process's (a piped
#: logger's own stdout is not; Apache starts it as root, so it may open that).
CONTAINER_STDOUT = "/proc/1/fd/1"


def _access_output() -> int:
    try:
        return os.open(CONTAINER_STDOUT, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return sys.stderr.fileno()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    access = argv[:1] == ["access"]
    convert = access_line if access else error_line
    out = _access_output() if access else sys.stderr.fileno()
    for line in sys.stdin.buffer:
        if line.strip():
            os.write(out, (convert(line) + "\n").encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
