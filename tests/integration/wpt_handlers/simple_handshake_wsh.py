# A handshake written by hand, a close frame after it, then the connection dropped.
from pywebsocket3 import common, stream
from pywebsocket3.handshake import AbortedByUserException, hybi


def web_socket_do_extra_handshake(request):
    key = request.headers_in.get(common.SEC_WEBSOCKET_KEY_HEADER)
    accept = hybi.compute_accept_from_unicode(key)
    response = (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Connection: Upgrade\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Set-Cookie: ws_test=test\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    request.connection.write(response)
    body = stream.create_closing_handshake_body(1000, "")
    request.connection.write(stream.create_close_frame(body))
    received = b""
    while len(received) < len(body) + 6:  # the client's masked close: 2 + 4 + body
        chunk = request.connection.read(len(body) + 6 - len(received))
        if not chunk:
            break
        received += chunk
    raise AbortedByUserException("the handler did the whole exchange itself")


def web_socket_transfer_data(request):
    pass
