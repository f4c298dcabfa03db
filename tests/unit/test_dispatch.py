import os

import pytest

from mod_pywebsocket import common
from mod_pywebsocket.dispatch import Dispatcher, DispatchException
from mod_pywebsocket.stream import Stream

from .fakes import client_frame, close_frame, make_request

ECHO = """
def web_socket_transfer_data(request):
    while (m := request.ws_stream.receive_message()) is not None:
        request.ws_stream.send_message(m, binary=isinstance(m, bytes))
"""
RAISE = """
def web_socket_transfer_data(request):
    raise RuntimeError("boom")
"""


def tree(root, files):
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def test_resources_scan_and_warnings(tmp_path):
    tree(
        tmp_path,
        {
            "echo_wsh.py": ECHO,
            "a/b_wsh.py": ECHO,
            "a/readme.py": ECHO,
            "broken_wsh.py": "def web_socket_transfer_data(:\n",
            "empty_wsh.py": "x = 1\n",
            "sub/deep_wsh.py": ECHO,
        },
    )
    d = Dispatcher(str(tmp_path), None, False)
    assert d.resources() == ["/a/b", "/echo", "/sub/deep"]
    warnings = "\n".join(d.source_warnings())
    assert "broken_wsh.py: failed to load: SyntaxError" in warnings
    assert "empty_wsh.py: no web_socket_transfer_data" in warnings
    scanned = Dispatcher(str(tmp_path), str(tmp_path / "sub"), False)
    assert scanned.resources() == ["/sub/deep"]


@pytest.mark.parametrize(
    "resource, found",
    [
        ("/echo", True),
        ("/echo?x=1", True),
        ("/ech%6f", True),
        ("/echo/", False),
        ("/../echo", False),
        ("/%2e%2e/echo", False),
        ("//echo", False),
        ("/echo\x00", False),
        ("\\echo", False),
        ("/echo_wsh.py", False),
        ("/" + "a" * 10000, False),
        ("/%ff%fe", False),
    ],
)
def test_lookup_is_a_table_not_a_path_join(tmp_path, resource, found):
    tree(tmp_path, {"echo_wsh.py": ECHO})
    d = Dispatcher(str(tmp_path), None, False)
    assert (d.get_handler_suite(resource) is not None) == found


def test_fragment_is_400(tmp_path):
    tree(tmp_path, {"echo_wsh.py": ECHO})
    with pytest.raises(DispatchException) as info:
        Dispatcher(str(tmp_path)).get_handler_suite("/echo#x")
    assert info.value.status == 400


def test_scan_dir_outside_root_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "other").mkdir()
    with pytest.raises(DispatchException):
        Dispatcher(str(tmp_path / "root"), str(tmp_path / "other"))


def test_symlink_leaving_the_root(tmp_path):
    outside = tmp_path / "outside"
    tree(outside, {"evil_wsh.py": ECHO})
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside / "evil_wsh.py", root / "evil_wsh.py")
    assert Dispatcher(str(root), None, False).resources() == []
    assert Dispatcher(str(root), None, True).resources() == ["/evil"]


def test_alias(tmp_path):
    tree(tmp_path, {"echo_wsh.py": ECHO})
    d = Dispatcher(str(tmp_path))
    d.add_resource_path_alias("/", "/echo")
    assert d.get_handler_suite("/") is d.get_handler_suite("/echo")
    with pytest.raises(DispatchException):
        d.add_resource_path_alias("/x", "/missing")


def run(tmp_path, handler, incoming):
    tree(tmp_path, {"h_wsh.py": handler})
    d = Dispatcher(str(tmp_path))
    request = make_request(incoming, uri="/h")
    request.ws_stream = Stream(request)
    request._dispatcher = d
    d.transfer_data(request)
    return request


def test_transfer_data_echo_then_clean_close(tmp_path):
    request = run(tmp_path, ECHO, client_frame(common.OPCODE_TEXT, b"hi") + close_frame(1001, "away"))
    frames = request.connection.frames()
    assert [(f.opcode, f.payload) for f in frames] == [
        (common.OPCODE_TEXT, b"hi"),
        (common.OPCODE_CLOSE, (1001).to_bytes(2, "big")),
    ]


def test_handler_exception_is_1011(tmp_path, caplog):
    request = run(tmp_path, RAISE, b"")
    close = request.connection.frames()[-1]
    assert close.opcode == common.OPCODE_CLOSE
    assert int.from_bytes(close.payload[:2], "big") == 1011
    assert "boom" in caplog.text


def test_returning_handler_closes_with_1000(tmp_path):
    request = run(tmp_path, "def web_socket_transfer_data(request):\n    pass\n", close_frame(1000))
    close = request.connection.frames()[0]
    assert close.payload == (1000).to_bytes(2, "big")
    assert request.client_terminated and request.server_terminated
