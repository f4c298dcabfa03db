"""pywebsocket3's helper modules written here: http_header_util, memorizingfile, util's zlib
wrappers and masking, common's extension parsers, dispatch's private helpers, server_util,
websocket_server, request_handler, and the standalone server's socketserver steps.

Each expectation is pywebsocket3 4.0.2's behaviour (checked against it when written);
tests/integration/test_pywebsocket3_surface.py checks that every name exists.
"""

from __future__ import annotations

import argparse
import http.server
import io
import logging
import socket
import threading
import zlib

import pytest
from websockets.sync.client import connect

from mod_pywebsocket import common, dispatch, http_header_util, server_util, standalone, util, websocket_server
from mod_pywebsocket.memorizingfile import MemorizingFile
from mod_pywebsocket.request_handler import WebSocketRequestHandler

H = http_header_util
TAIL = b"\x00\x00\xff\xff"
ECHO = """
def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    while (m := request.ws_stream.receive_message()) is not None:
        request.ws_stream.send_message(m, binary=isinstance(m, bytes))
"""
# request_handler's connection keeps the request head's lines: this one says the first.
FIRST_LINE_THEN_ECHO = ECHO.replace(
    "def web_socket_transfer_data(request):\n",
    "def web_socket_transfer_data(request):\n"
    "    first = request.connection.get_memorized_lines()[0].decode('latin-1').strip()\n"
    "    request.ws_stream.send_message(first, binary=False)\n",
)


def state(text: str, head: int = 0) -> H.ParsingState:
    s = H.ParsingState(text)
    s.head = head
    return s


# -- http_header_util ---------------------------------------------------------------


def test_peek_and_consume_move_only_on_success():
    s = state("abc")
    assert (H.peek(s), H.peek(s, 2), H.peek(s, 3)) == ("a", "c", None)
    assert H.consume(s, 2) == "ab" and s.head == 2
    assert H.consume(s, 2) is None and s.head == 2
    assert H.consume_string(s, "c") and s.head == 3
    assert not H.consume_string(state("abc"), "abd")


@pytest.mark.parametrize(
    ("text", "taken", "head"),
    [(" \t x", True, 3), ("\r\n x", True, 3), ("\r\nx", False, 0), ("x", False, 0), ("", False, 0)],
)
def test_consume_lws(text, taken, head):
    s = state(text)
    assert H.consume_lws(s) is taken and s.head == head


def test_consume_lwses_takes_every_lws():
    s = state(" \r\n \t\r\n\tx")
    H.consume_lwses(s)
    assert H.peek(s) == "x"


@pytest.mark.parametrize(
    ("text", "token", "head"),
    [("abc;d", "abc", 3), ("x-y.z=1", "x-y.z", 5), (";a", None, 0), ("a\x01", "a", 1), ("é", None, 0), ("", None, 0)],
)
def test_consume_token(text, token, head):
    s = state(text)
    assert H.consume_token(s) == token and s.head == head


@pytest.mark.parametrize(
    ("text", "value", "head"),
    [
        ('"a b"c', "a b", 5),
        ('"a \t\r\n  b"', "a  b", 10),  # each LWS is one space
        ('"\\"q\\\\"', '"q\\', 7),
        ('"\\\x01"', "\x01", 4),  # a quoted-pair may be a CTL
        ('"é"', "é", 3),
        ('""', "", 2),
        ('"open', None, 0),
        ('"a\x01"', None, 0),
        ('"\\é"', None, 0),
        ("token;", "token", 5),
    ],
)
def test_consume_token_or_quoted_string(text, value, head):
    s = state(text)
    assert H.consume_token_or_quoted_string(s) == value and s.head == head


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("abc", "abc"), ("", '""'), ("a b", '"a b"'), ('a"b', '"a\\"b"'), ("a\x01", '"a\\\x01"'),
     ("a\\b", '"a\\b"'), ("é", '"é"'), ("a=b", '"a=b"')],
)  # fmt: skip
def test_quote_if_necessary(value, quoted):
    assert H.quote_if_necessary(value) == quoted


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("ws://example.com/chat?x=1#f", ("example.com", 80, "/chat?x=1#f")),
        ("wss://Example.com", ("example.com", 443, "/")),
        ("ws://[::1]:9000/p", ("::1", 9000, "/p")),
        ("/relative?q", (None, None, "/relative?q")),
        ("http://example.com/x", (None, None, "http://example.com/x")),
        ("ws:///no-host", (None, None, None)),
        ("ws://h:port/", (None, None, None)),
    ],
)
def test_parse_uri(uri, parsed):
    assert H.parse_uri(uri) == parsed


# -- common's parsers on the cursor --------------------------------------------------


def test_parse_extension_and_its_parameters():
    s = state('permessage-deflate; a ; b = "1 2" ; c=3 , other')
    extension = common._parse_extension(s)
    assert extension.name() == "permessage-deflate"
    assert extension.get_parameters() == [("a", None), ("b", "1 2"), ("c", "3")]
    assert H.peek(s) == ","
    assert common._parse_extension(state(", x")) is None
    with pytest.raises(common.ExtensionParsingException, match="for 'e'"):
        common._parse_extension(state("e; =1"))
    definition = common.ExtensionParameter("e")
    with pytest.raises(common.ExtensionParsingException, match="right-hand side of parameter 'p'"):
        common._parse_extension_param(state("p=;"), definition)
    assert common.WEBSOCKET_ACCEPT_UUID == b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    assert common.http_header_util is H


# -- memorizingfile -------------------------------------------------------------------


def test_memorizing_file_keeps_the_lines_readline_returned():
    f = MemorizingFile(io.BytesIO(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), max_memorized_lines=2)
    assert f.readline() == b"GET / HTTP/1.1\r\n"
    assert f.readline(3) == b"Hos"  # the whole line is read and memorized; the rest comes next
    assert f.readline(100) == b"t: x\r\n"
    assert f.readline() == b"\r\n"
    assert f.read() == b"body"  # other attributes are the file's, and are not memorized
    assert f.get_memorized_lines() == [b"GET / HTTP/1.1\r\n", b"Host: x\r\n"]
    assert f.readline() == b"" and f.closed is False


# -- util -------------------------------------------------------------------------------


def test_inflater_takes_a_permessage_deflate_payload():
    payload = b"compressible " * 500
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    compressed = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    inflater = util._Inflater(15)
    inflater.append(compressed[:-4] + TAIL)
    assert inflater.decompress(-1) == payload
    assert inflater.decompress(-1) == b""


def test_inflater_hands_out_at_most_size_bytes_and_crosses_stream_ends():
    first, second = b"a" * 5000, b"b" * 3000
    streams = b""
    for data in (first, second):
        deflater = util._Deflater(15)
        streams += deflater.compress_and_finish(data)
    inflater = util._Inflater(15)
    inflater.append(streams)
    pieces = []
    while piece := inflater.decompress(1024):
        assert len(piece) <= 1024
        pieces.append(piece)
    assert b"".join(pieces) == first + second
    with pytest.raises(ValueError):
        inflater.decompress(0)


@pytest.mark.parametrize("window_bits", [8, 9, 12, 15])
def test_deflater_round_trips(window_bits):
    deflater, inflater = util._Deflater(window_bits), util._Inflater(15)
    flushed = deflater.compress(b"x" * 100) + deflater.compress_and_flush(b"y" * 100)
    assert flushed.endswith(TAIL)
    inflater.append(flushed)
    assert inflater.decompress(-1) == b"x" * 100 + b"y" * 100
    inflater.append(deflater.compress_and_finish(b"z"))
    assert inflater.decompress(-1) == b"z"


@pytest.mark.parametrize("no_context_takeover", [False, True])
def test_rfc1979_deflater_and_inflater_round_trip(no_context_takeover):
    deflater, inflater = util._RFC1979Deflater(None, no_context_takeover), util._RFC1979Inflater()
    for message in (b"hello " * 50, b"", b"hello " * 50):
        compressed = deflater.filter(message)
        assert not compressed.endswith(TAIL)
        assert inflater.filter(compressed) == message
    fragments = deflater.filter(b"part one ", end=False) + deflater.filter(b"part two")
    assert inflater.filter(fragments) == b"part one part two"
    final = deflater.filter(b"last", bfinal=True)
    assert final.endswith(b"\x00") and zlib.decompressobj(-15).decompress(final) == b"last"


def test_deflate_socket_compresses_both_ways():
    ours, peer = socket.socketpair()
    with ours, peer:
        wrapped = util.DeflateSocket(ours)
        assert wrapped.send(b"ping " * 100) == 500
        inflater = zlib.decompressobj(-15)
        received = b""
        while len(received) < 500:
            received += inflater.decompress(peer.recv(4096))
        assert received == b"ping " * 100
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        peer.sendall(deflater.compress(b"pong " * 100) + deflater.flush(zlib.Z_SYNC_FLUSH))
        got = b""
        while len(got) < 500:
            got += wrapped.recv(200)
        assert got == b"pong " * 100
        peer.shutdown(socket.SHUT_WR)
        assert wrapped.recv(10) == b""


def test_masking_in_pure_python_and_fast_agree_and_stream():
    data = bytes(range(256)) * 3
    for key in (b"\x01\x02\x03\x04", b"ab", b"12345"):
        fast, slow = util.RepeatedXorMasker(key), util.RepeatedXorMasker(key)
        masked = fast.mask(data[:5]) + fast._mask_using_swig(data[5:])
        assert masked == slow._mask_using_array(data[:7]) + slow._mask_using_array(data[7:])
        assert util.RepeatedXorMasker(key).mask(masked) == data
    with pytest.raises(TypeError):
        util.RepeatedXorMasker(b"abcd").mask("text")


def test_pack_byte_and_script_interpreter(tmp_path):
    assert util.pack_byte(0) == b"\x00" and util.pack_byte(255) == b"\xff"
    script = tmp_path / "hello.pl"
    script.write_text("#!/usr/bin/perl -wT\nprint 1;\n")
    assert util.get_script_interp(str(script)) == "/usr/bin/perl -wT"
    assert util.get_script_interp(str(script), "/cygwin/bin") == "/cygwin/bin/perl -wT"
    script.write_text("#!/bin/sh\n")
    assert util.get_script_interp(str(script), "/cygwin/bin") == "/cygwin/bin/sh"
    script.write_text("print 1\n")
    assert util.get_script_interp(str(script)) is None


# -- dispatch's private helpers --------------------------------------------------------


def test_path_helpers(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/b_wsh.py", "a/C_WSH.PY", "a/readme.py", "top_wsh.py"):
        (tmp_path / name).write_text(ECHO)
    found = sorted(dispatch._enumerate_handler_file_paths(str(tmp_path)))
    assert found == sorted(str(tmp_path / n) for n in ("a/b_wsh.py", "a/C_WSH.PY", "top_wsh.py"))
    convert = dispatch._create_path_to_resource_converter(str(tmp_path))
    assert convert(str(tmp_path / "a" / "b_wsh.py")) == "/a/b"
    assert convert(str(tmp_path / "a" / "readme.py")) is None
    assert convert("/elsewhere/x_wsh.py") is None
    assert dispatch._normalize_path(str(tmp_path / "a" / ".." / "top_wsh.py")) == str(tmp_path / "top_wsh.py")


def test_source_handler_file_as_pywebsocket3_did():
    suite = dispatch._source_handler_file("from pywebsocket3 import common\n" + ECHO)
    assert isinstance(suite, dispatch._HandlerSuite)
    assert suite.passive_closing_handshake is dispatch._default_passive_closing_handshake_handler
    with pytest.raises(dispatch.DispatchException, match="web_socket_do_extra_handshake is not defined"):
        dispatch._source_handler_file("def web_socket_transfer_data(request): pass\n")
    with pytest.raises(dispatch.DispatchException, match="(?s)Error in sourcing handler:.*ZeroDivisionError"):
        dispatch._source_handler_file("1 / 0\n")
    with pytest.raises(dispatch.DispatchException, match="x is not callable"):
        dispatch._extract_handler({"x": 1}, "x")
    names = (dispatch._DO_EXTRA_HANDSHAKE_HANDLER_NAME, dispatch._TRANSFER_DATA_HANDLER_NAME)
    assert names == ("web_socket_do_extra_handshake", "web_socket_transfer_data")


def test_source_handler_files_in_dir_loads_what_is_there_now(tmp_path):
    dispatcher = dispatch.Dispatcher(str(tmp_path), None, False)
    assert dispatcher.get_handler_suite("/late") is None
    (tmp_path / "late_wsh.py").write_text(ECHO)
    dispatcher._source_handler_files_in_dir(str(tmp_path), None, False, None)
    assert dispatcher.get_handler_suite("/late") is not None


# -- server_util, websocket_server, standalone ----------------------------------------


@pytest.fixture
def root_logging():
    """Give the root logger its handlers and level back (configure_logging replaces them)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_logging_sets_the_deflate_loggers(root_logging):
    options = argparse.Namespace(log_level="fine", log_file="", log_max=1, log_count=1, deflate_log_level="error")
    server_util.configure_logging(options)
    assert logging.getLevelName(common.LOGLEVEL_FINE) == "FINE"
    assert logging.getLogger().level == common.LOGLEVEL_FINE
    for codec in (util._Deflater, util._Inflater):
        assert server_util._get_logger_from_class(codec).level == logging.ERROR
    assert server_util._get_logger_from_class(util._Deflater) is util.get_class_logger(util._Deflater(15))


def test_thread_monitor_logs_the_threads(monkeypatch, caplog):
    def stop(seconds):
        raise StopIteration

    monkeypatch.setattr(server_util.time, "sleep", stop)
    monitor = server_util.ThreadMonitor(1)
    assert monitor.daemon and monitor.name == "ThreadMonitor"
    with caplog.at_level(logging.INFO), pytest.raises(StopIteration):
        monitor.run()
    assert "active threads: MainThread" in caplog.text


def test_alias_handlers_reads_a_map_file(tmp_path, caplog):
    (tmp_path / "echo_wsh.py").write_text(ECHO)
    map_file = tmp_path / "map.txt"
    map_file.write_text("# comment\n\n/alias /echo\nnot a pair line\n/other /missing\n")
    dispatcher = dispatch.Dispatcher(str(tmp_path), None, False)
    websocket_server._alias_handlers(dispatcher, str(map_file))
    assert dispatcher.get_handler_suite("/alias") is dispatcher.get_handler_suite("/echo")
    assert "Wrong format in map file: not a pair line" in caplog.text
    assert "/missing" in caplog.text


def test_standalone_module_names(monkeypatch):
    assert standalone._build_option_parser().get_default("port") == 80
    assert (standalone._DEFAULT_LOG_MAX_BYTES, standalone._DEFAULT_LOG_BACKUP_COUNT) == (262144, 5)
    assert standalone._DEFAULT_REQUEST_QUEUE_SIZE == 128
    monkeypatch.setattr(standalone, "main", lambda args: 2)  # the server could not start
    with pytest.raises(SystemExit) as exited:
        standalone._main(["-p", "0"])
    assert exited.value.code == 2
    monkeypatch.setattr(standalone, "main", lambda args: 0)
    assert standalone._main([]) is None


# -- the standalone server's socketserver steps ------------------------------------------


@pytest.fixture
def server(tmp_path):
    (tmp_path / "echo_wsh.py").write_text(ECHO)
    options, _ = standalone._parse_args_and_config(["-H", "127.0.0.1", "-p", "0", "-w", str(tmp_path)])
    with standalone.WebSocketServer(options) as server:
        yield server


def test_server_steps_and_attributes(server):
    assert server.websocket_server_options.dispatcher is server._dispatcher
    assert server.server_address == ("127.0.0.1", server.server_port) and server.server_port
    assert server.fileno() == server._sockets[0][0].fileno()
    assert server.request_queue_size == 128 and server.daemon_threads and server.allow_reuse_address
    timed_out = []
    server.timeout = 0.01
    server.handle_timeout = lambda: timed_out.append(True)
    server.handle_request()
    assert timed_out


def test_handle_request_serves_one_connection(server):
    url = f"ws://127.0.0.1:{server.server_port}/echo"
    accepted = threading.Thread(target=server.handle_request)
    accepted.start()
    with connect(url, open_timeout=10) as ws:
        ws.send("hi")
        assert ws.recv(timeout=10) == "hi"
    accepted.join(10)


def test_verify_request_false_refuses_the_connection(server):
    server.verify_request = lambda request, client_address: False
    client = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
    with client:
        client.shutdown(socket.SHUT_WR)  # so the server's lingering close ends at once
        server.handle_request()
        assert client.recv(10) == b""


# -- request_handler ---------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path):
    (tmp_path / "echo_wsh.py").write_text(FIRST_LINE_THEN_ECHO)
    (tmp_path / "index.txt").write_text("static")
    (tmp_path / "cgi").mkdir()
    (tmp_path / "cgi" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "cgi" / "run.sh").chmod(0o755)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WebSocketRequestHandler)
    server.websocket_server_options = argparse.Namespace(
        dispatcher=dispatch.Dispatcher(str(tmp_path), None, False), use_tls=False, use_basic_auth=False,
        validation_host=None, validation_port=None, cgi_directories=["/cgi"], is_executable_method=None,
        document_root=str(tmp_path),
    )  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def http_get(port: int, path: str, method: str = "GET") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(f"{method} {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        response = b""
        while chunk := client.recv(4096):
            response += chunk
    return response


def test_request_handler_serves_websockets_through_the_handlers(http_server):
    with connect(f"ws://127.0.0.1:{http_server.server_port}/echo", open_timeout=10) as ws:
        assert ws.recv(timeout=10) == "GET /echo HTTP/1.1"  # the memorized request line
        ws.send(b"\x00bytes")
        assert ws.recv(timeout=10) == b"\x00bytes"


def test_request_handler_serves_files_and_refuses_cgi(http_server):
    port = http_server.server_port
    assert http_get(port, "/index.txt").endswith(b"\r\n\r\nstatic")
    assert http_get(port, "/missing").startswith(b"HTTP/1.0 404")
    assert http_get(port, "/cgi/run.sh").startswith(b"HTTP/1.0 501")
    assert http_get(port, "/index.txt", "POST").startswith(b"HTTP/1.0 501")
    assert http_get(port, "/echo").startswith(b"HTTP/1.0 4")  # a handler's resource needs an upgrade
