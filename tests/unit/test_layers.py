"""The layers talk through arguments and Protocols: the flow hands the handshake its suite,
pywebsocket3's request-only calls still find theirs, and the runtime asks a stream for its
optional methods only when it has them."""

from __future__ import annotations

import os
import socket

from mod_pywebsocket.adapters.standalone.server import SocketConnection
from mod_pywebsocket.dispatch import Dispatcher
from mod_pywebsocket.runtime import flow
from mod_pywebsocket.runtime.blocking_stream import Stream, runtime_stream
from mod_pywebsocket.runtime.handshaker import do_handshake
from mod_pywebsocket.runtime.interfaces import RuntimeStream, TimedConnection
from mod_pywebsocket.stream import StreamOptions

from .fakes import FakeConnection, close_frame, make_request
from .test_handshake import GOOD, Headers

HOOKS = """
def web_socket_do_extra_handshake(request):
    request.extra_headers.append(("X-Version", "{version}"))

def web_socket_transfer_data(request):
    request.ws_stream.receive_message()

def web_socket_passive_closing_handshake(request):
    return 4000, "{version}"
"""


def _handler(tmp_path, version: str, bump: int = 0) -> None:
    path = tmp_path / "h_wsh.py"
    path.write_text(HOOKS.format(version=version))
    if bump:  # a later mtime, whatever the file system's clock resolution
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 10**9))


def _closed_by_hook(version: str) -> bytes:
    """The end of what the server wrote: its answer to the client's close, from the hook."""
    return (4000).to_bytes(2, "big") + version.encode()


def _upgrade():
    return make_request(close_frame(1000), headers=Headers(**GOOD), uri="/h")


def test_the_flow_hands_the_suite_to_the_handshake_and_the_handler(tmp_path):
    _handler(tmp_path, "v1")
    dispatcher = Dispatcher(str(tmp_path), reload=True)
    request = _upgrade()
    assert flow.handle_upgrade(request, dispatcher, StreamOptions()) is flow.SERVED
    written = bytes(request.connection.written)
    assert b"X-Version: v1\r\n" in written and written.endswith(_closed_by_hook("v1"))
    assert "_handler_suite" not in vars(request)  # no request attribute carried it
    assert request._dispatcher is dispatcher  # pywebsocket3's servers set it; handlers may read it


def test_pywebsocket3_calls_keep_the_suite_the_handshake_found(tmp_path):
    """An embedder (wptserve) drives the dispatcher with the request alone: the suite its
    handshake used serves the passive close and transfer_data, across a reload."""
    _handler(tmp_path, "v1")
    dispatcher = Dispatcher(str(tmp_path), reload=True)
    request = _upgrade()
    do_handshake(request, dispatcher)
    _handler(tmp_path, "v2", bump=1)
    assert dispatcher.get_handler_suite("/h") is not request._handler_suite
    dispatcher.transfer_data(request)
    assert bytes(request.connection.written).endswith(_closed_by_hook("v1"))


class _HandlersOwnStream:
    def receive_message(self) -> str | bytes | None:
        return None

    def send_message(self, message: str | bytes, end: bool = True, binary: bool = False) -> None:
        pass

    def close_connection(self, code: int | None = 1000, reason: str = "", wait_response: bool = True) -> None:
        pass


def test_runtime_stream_is_a_stream_with_the_runtimes_methods():
    request = make_request()
    assert runtime_stream(request) is None
    request.ws_stream = Stream(request)
    assert runtime_stream(request) is request.ws_stream and isinstance(request.ws_stream, RuntimeStream)
    request.ws_stream = _HandlersOwnStream()
    assert runtime_stream(request) is None
    del request.ws_stream  # an embedder's request before its handshake
    assert runtime_stream(request) is None


def test_timed_connections():
    left, right = socket.socketpair()
    with left, right:
        assert isinstance(SocketConnection(left, b"", ("a", 1), ("b", 2)), TimedConnection)
    assert not isinstance(FakeConnection(), TimedConnection)
