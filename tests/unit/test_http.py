import pytest

from mod_pywebsocket.adapters.standalone.http_head import Headers, HttpError, format_response, read_request_head


def reader(data: bytes, chunk: int = 7):
    buffer = bytearray(data)

    def recv(n: int) -> bytes:
        out = bytes(buffer[: min(n, chunk)])
        del buffer[: len(out)]
        return out

    return recv


def test_head_and_leftover_in_small_chunks():
    recv = reader(b"GET /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a:  2 \r\n\r\n\x81\x80abcd")
    head, leftover = read_request_head(recv)
    assert (head.method, head.target, head.version) == ("GET", "/echo?x=1", "HTTP/1.1")
    assert head.headers.get("x-a") == "1, 2"
    assert head.headers["X-A"] == "1, 2"
    assert head.headers.get_all("X-a") == ["1", "2"]
    assert "host" in head.headers and head.headers.get("missing") is None
    assert leftover + recv(100) == b"\x81\x80abcd"  # what was read past the head is kept


@pytest.mark.parametrize(
    "data, status",
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: b\nX-Injected: 1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nA: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 101 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nA: b", 400),  # closed in the middle of the head
    ],
)
def test_bad_heads(data, status):
    with pytest.raises(HttpError) as info:
        read_request_head(reader(data, chunk=4096))
    assert info.value.status == status


def test_endless_head_is_refused():
    with pytest.raises(HttpError) as info:
        read_request_head(lambda n: b"GET / HTTP/1.1\r\n" if n else b"" or b"X: y\r\n")
    assert info.value.status in (414, 431)


def test_closed_before_anything_is_connection_error():
    with pytest.raises(ConnectionError):
        read_request_head(reader(b""))


def test_response_format():
    response = format_response(404, [("Content-Type", "text/plain")], b"nope")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 Not Found\r\nServer: mod_pywebsocket/")
    assert b"Content-Length: 4" in head and b"Connection: close" in head and body == b"nope"
    assert format_response(200, [], b"abc", head_only=True).endswith(b"Content-Length: 3\r\nConnection: close\r\n\r\n")


def test_headers_repr_and_items():
    h = Headers([("A", "1"), ("b", "2")])
    assert h.items() == [("A", "1"), ("b", "2")] and len(h) == 2 and list(h) == ["A", "b"]
