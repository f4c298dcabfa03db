"""Log lines: text and JSON, the connection id on every line of a connection, the
connection's summary line, a handler's error with its file and line, and Apache's own
lines turned into JSON by the piped logger (``adapters/apache/error_log``)."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from mod_pywebsocket.adapters.apache import error_log
from mod_pywebsocket.runtime import log_format
from mod_pywebsocket.runtime.connection_summary import ConnectionSummary, handler_error


def _logger(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    logger = logging.getLogger(f"test.log_format.{fmt}")
    logger.handlers[:] = [log_format.configure(logging.StreamHandler(out), fmt)]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, out


def test_json_lines_parse_and_carry_the_connection_id_of_their_thread():
    logger, out = _logger("json")
    logger.info("before")
    with log_format.connection_scope("c0ffee00"):
        logger.warning('a "quoted" message \\ with é')

        def other() -> None:
            logger.info("another thread, another connection")

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    logger.info("after")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e.get("connection") for e in lines] == [None, "c0ffee00", None, None]
    assert lines[1]["message"] == 'a "quoted" message \\ with é'
    assert lines[1]["level"] == "warn" and lines[1]["logger"] == "test.log_format.json"
    assert lines[1]["time"].endswith("Z") and "pid" in lines[1]
    assert all(line.isascii() for line in out.getvalue().splitlines())


def test_text_lines_show_the_connection_id_after_the_logger():
    logger, out = _logger("text")
    with log_format.connection_scope("0badf00d"):
        logger.info("hello")
    logger.info("bye")
    first, second = out.getvalue().splitlines()
    assert "test.log_format.text: [0badf00d] hello" in first
    assert "test.log_format.text: bye" in second


def test_a_traceback_is_one_json_line_with_the_whole_traceback():
    logger, out = _logger("json")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.error("it failed", exc_info=True)
    (entry,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert entry["message"] == "it failed"
    assert "Traceback (most recent call last)" in entry["traceback"]
    assert "ValueError: boom" in entry["traceback"]


def test_handler_error_names_the_handlers_file_and_line(tmp_path):
    handler = tmp_path / "boom_wsh.py"
    handler.write_text(
        "def web_socket_transfer_data(request):\n    helper()\n\ndef helper():\n    raise KeyError('x')\n"
    )
    namespace: dict = {}
    exec(compile(handler.read_text(), str(handler), "exec"), namespace)
    try:
        namespace["web_socket_transfer_data"](None)
    except KeyError as e:
        error = handler_error(e, str(handler))
    assert (error.type, error.line, error.function) == ("KeyError", 5, "helper")
    assert str(error) == "KeyError: 'x' (boom_wsh.py:5 in helper)"


class _Request:
    protocol = "HTTP/1.1"
    ws_resource = "/echo"
    ws_origin = "http://example.test"
    ws_protocol = "chat"
    ws_extensions = None
    ws_close_code = 1000
    ws_close_reason = ""
    client_terminated = True

    class connection:  # noqa: N801
        remote_addr = ("127.0.0.1", 51234)
        local_addr = ("127.0.0.1", 8080)

    def is_https(self) -> bool:
        return True


class _Tap:
    bytes_received, bytes_sent = 120, 110


class _Stream:
    messages_received, messages_sent, sent_close_code, sent_close_reason = 3, 3, 1000, ""
    tap = _Tap()


def test_the_connection_line_has_every_field_in_json():
    logger = logging.getLogger("mod_pywebsocket.connection")
    out = io.StringIO()
    handler = log_format.configure(logging.StreamHandler(out), "json")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        summary = ConnectionSummary.start("12345678", _Request(), "/srv/handlers/echo_wsh.py")  # type: ignore[arg-type]
        summary.accepted(_Request())  # type: ignore[arg-type]
        summary.ended(_Request(), _Stream(), None, aborted=False)  # type: ignore[arg-type]
        summary.log()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    (entry,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert entry["connection"] == "12345678"
    assert entry["transport"] == "wss" and entry["resource"] == "/echo" and entry["peer"] == "127.0.0.1:51234"
    assert (entry["messages_in"], entry["bytes_in"], entry["messages_out"], entry["bytes_out"]) == (3, 120, 3, 110)
    assert (entry["close_in"], entry["close_out"], entry["outcome"], entry["error"]) == (1000, 1000, "closed", None)
    assert entry["origin"] == "http://example.test" and entry["subprotocol"] == "chat"
    assert "wss /echo from 127.0.0.1:51234, handler echo_wsh.py" in entry["message"]
    assert not summary.abnormal


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            b'[2026-12-06 18:20:34.614584] [-:warn] [pid 36:tid 1406] mod_pywebsocket: say "hi" '
            b'\\\\ x \\t \\xc3\\xa9\n',
            {"level": "warn", "logger": "apache", "pid": 36, "message": 'mod_pywebsocket: say "hi" \\ x \t é',
             "time": "2026-12-06T18:20:34.614Z"},
        ),
        (
            b"[2026-12-06 18:20:30.846066] [mpm_event:notice] [pid 31:tid 1406] AH00489: Apache configured\n",
            {"level": "notice", "logger": "apache.mpm_event", "pid": 31, "message": "AH00489: Apache configured",
             "time": "2026-12-06T18:20:30.846Z"},
        ),
        (b"not apache's format at all\n",
         {"level": "info", "logger": "apache", "message": "not apache's format at all"}),
    ],
)  # fmt: skip
def test_apache_error_lines_become_json(line, expected):
    assert json.loads(error_log.error_line(line)) == expected


def test_json_lines_pass_through_the_error_pipe_unchanged():
    line = json.dumps({"message": "ours", "connection": "1"})
    assert error_log.error_line(line.encode() + b"\n") == line


def test_access_lines_with_apaches_hex_escapes_become_valid_json():
    raw = b'{"remote":"127.0.0.1","request":"GET /\\xff\\"x HTTP/1.1","status":404}\n'
    entry = json.loads(error_log.access_line(raw))
    assert entry["request"] == 'GET /\u00ff"x HTTP/1.1' and entry["status"] == 404
    assert json.loads(error_log.access_line(b"garbage {\n"))["message"] == "garbage {"


@pytest.mark.parametrize(
    ("close_in", "close_out", "outcome", "error", "abnormal"),
    [
        (1000, 1000, "closed", None, False),
        (1001, 1001, "closed", None, False),
        (1005, 1005, "closed", None, False),  # an empty close each way
        (4000, 4000, "closed", None, False),  # an application's own code
        (1000, 1011, "closed", None, True),
        (1002, 1002, "closed", None, True),
        (None, None, "dropped", None, True),
        (1000, 1000, "closed", "KeyError: 'x' (x_wsh.py:5 in f)", True),
        (None, None, "aborted", None, True),
    ],
)
def test_what_ws_capture_errors_keeps(close_in, close_out, outcome, error, abnormal):
    summary = ConnectionSummary("1", "ws", "/x", "/h/x_wsh.py", "a:1", "b:2", close_in=close_in,
                                close_out=close_out, outcome=outcome, error=error)  # fmt: skip
    assert summary.abnormal is abnormal
