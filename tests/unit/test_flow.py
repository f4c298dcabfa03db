"""The request flow both adapters share: one handler lookup per handshake, and its outcomes."""

from __future__ import annotations

import os

from mod_pywebsocket import common
from mod_pywebsocket.dispatch import Dispatcher
from mod_pywebsocket.runtime import flow
from mod_pywebsocket.stream import StreamOptions

from .fakes import close_frame, make_request
from .test_handshake import GOOD, Headers

ECHO_WITH_HOOKS = """
def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    while (m := request.ws_stream.receive_message()) is not None:
        request.ws_stream.send_message(m)

def web_socket_passive_closing_handshake(request):
    return 4321, "from the hook"
"""


def upgrade(uri: str = "/echo", incoming: bytes = close_frame(1000)):
    return make_request(incoming, headers=Headers(**GOOD), uri=uri)


def test_one_stat_of_the_handler_file_per_handshake(tmp_path, monkeypatch):
    (tmp_path / "echo_wsh.py").write_text(ECHO_WITH_HOOKS)
    dispatcher = Dispatcher(str(tmp_path), reload=True)
    handler = os.path.realpath(tmp_path / "echo_wsh.py")
    stats = []
    real_stat = os.stat

    def counting_stat(path, *args, **kwargs):
        if os.fspath(path) == handler:
            stats.append(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    request = upgrade()
    outcome = flow.handle_upgrade(request, dispatcher, StreamOptions())
    assert outcome is flow.SERVED
    assert len(stats) == 1, f"{len(stats)} stat() calls for one handshake"
    # the passive-close hook answered the client's close, through the options given as arguments
    written = request.connection.written
    assert written.startswith(b"HTTP/1.1 101 ")
    assert written.endswith(b"\x88\x0f" + (4321).to_bytes(2, "big") + b"from the hook")


def test_outcomes(tmp_path):
    (tmp_path / "echo_wsh.py").write_text(ECHO_WITH_HOOKS)
    (tmp_path / "broken_wsh.py").write_text("def web_socket_transfer_data(:\n")
    (tmp_path / "abort_wsh.py").write_text(
        "from mod_pywebsocket.handshake import AbortedByUserException\n"
        "def web_socket_do_extra_handshake(request):\n    raise AbortedByUserException('no')\n"
        "def web_socket_transfer_data(request):\n    pass\n"
    )
    dispatcher = Dispatcher(str(tmp_path), reload=True)
    options = StreamOptions(allowed_origins=frozenset({"https://ok.test"}))
    assert flow.handle_upgrade(upgrade("/nothing"), dispatcher, options) is flow.NOT_OURS
    broken = flow.handle_upgrade(upgrade("/broken"), dispatcher, options)
    assert isinstance(broken, flow.Refusal) and broken.status == common.HTTP_STATUS_INTERNAL_SERVER_ERROR
    aborted = upgrade("/abort")
    assert flow.handle_upgrade(aborted, dispatcher, options) is flow.ABORTED
    assert not aborted.connection.written
    refused = upgrade()
    refused.headers_in["origin"] = "https://elsewhere.test"
    outcome = flow.handle_upgrade(refused, dispatcher, options)
    assert isinstance(outcome, flow.Refusal) and outcome.status == common.HTTP_STATUS_FORBIDDEN
