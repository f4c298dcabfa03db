"""Firefox driven through its own automation protocol, Marionette: no geckodriver needed.

Firefox started with ``-marionette`` listens on ``marionette.port`` (a pref) for
length-prefixed JSON packets, ``<length>:<json>``: it greets with its protocol level,
then answers each ``[0, id, "WebDriver:Command", params]`` with
``[1, id, error, result]``. The commands are WebDriver's, by other names; this module
maps the few ``webdriver.Browser`` and ``Page`` use. geckodriver speaks exactly this to
Firefox; doing it here spares a crates.io build of several minutes on every fresh CI
machine, and keeps ``make engines`` to Debian's packages.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from .processes import START_TIMEOUT, stop_group, tail_of
from .webdriver import COMMAND_TIMEOUT, WebDriverError

# (method, path relative to the session) -> Marionette's command; "{id}" is an element's id.
_COMMANDS = {
    ("POST", "/url"): "WebDriver:Navigate",
    ("POST", "/execute/sync"): "WebDriver:ExecuteScript",
    ("GET", "/window"): "WebDriver:GetWindowHandle",
    ("POST", "/window"): "WebDriver:SwitchToWindow",
    ("DELETE", "/window"): "WebDriver:CloseWindow",
    ("POST", "/window/new"): "WebDriver:NewWindow",
    ("POST", "/element"): "WebDriver:FindElement",
    ("POST", "/element/{id}/click"): "WebDriver:ElementClick",
    ("POST", "/element/{id}/clear"): "WebDriver:ElementClear",
    ("POST", "/element/{id}/value"): "WebDriver:ElementSendKeys",
    ("GET", "/screenshot"): "WebDriver:TakeScreenshot",
    ("DELETE", ""): "WebDriver:DeleteSession",
}
_ELEMENT_PATH = re.compile(r"^/element/([^/]+)(/\w+)$")


class MarionetteSession:
    """A Firefox process and one Marionette session in it (the ``webdriver.Transport`` of a Browser)."""

    def __init__(self, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._id = 0
        self._buffer = b""
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self._sock = self._connect(port)
            self._receive()  # the greeting: {"applicationType": "gecko", "marionetteProtocol": 3}
        except BaseException:
            self.stop()
            raise

    def _connect(self, port: int) -> socket.socket:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"firefox exited at start ({self.process.returncode}):\n{self.log_tail()}")
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.settimeout(COMMAND_TIMEOUT)
                return sock
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"firefox's Marionette did not listen within {START_TIMEOUT:.0f} s") from None
                time.sleep(0.1)

    def _receive(self) -> Any:
        while b":" not in self._buffer:
            self._buffer += self._recv()
        length, _, rest = self._buffer.partition(b":")
        size = int(length)
        while len(rest) < size:
            rest += self._recv()
        self._buffer = rest[size:]
        return json.loads(rest[:size])

    def _recv(self) -> bytes:
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            raise WebDriverError("marionette", "timeout", f"no answer within {COMMAND_TIMEOUT:.0f} s") from None
        if not data:
            raise WebDriverError("marionette", "disconnected", "Firefox closed the Marionette connection")
        return data

    def send(self, name: str, params: dict[str, Any]) -> Any:
        """One command, its result (a lone ``value`` unwrapped, as WebDriver servers answer)."""
        self._id += 1
        packet = json.dumps([0, self._id, name, params]).encode()
        self._sock.sendall(str(len(packet)).encode() + b":" + packet)
        while True:
            kind, msg_id, error, result = self._receive()
            if kind == 1 and msg_id == self._id:
                break
        if error:
            raise WebDriverError(name, error.get("error", "?"), error.get("message", ""))
        if isinstance(result, dict) and set(result) == {"value"}:
            return result["value"]
        return result

    def new_session(self, capabilities: dict[str, Any]) -> dict[str, Any]:
        return self.send("WebDriver:NewSession", capabilities)

    def command(self, method: str, path: str, body: Any = None) -> Any:
        params = dict(body or {})
        key = (method, path)
        m = _ELEMENT_PATH.match(path)
        if m is not None:
            key = (method, "/element/{id}" + m.group(2))
            params["id"] = m.group(1)
        if key == ("GET", "/screenshot"):
            params.update(full=False, hash=False)
        name = _COMMANDS.get(key)
        if name is None:
            raise WebDriverError(f"{method} {path}", "unknown command", "not mapped to Marionette here")
        return self.send(name, params)

    def log_tail(self, size: int = 4000) -> str:
        return tail_of(self.log, size)

    def stop(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()
        stop_group(self.process)
