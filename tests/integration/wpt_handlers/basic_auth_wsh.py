# Basic authentication checked by the handler: a raw 401 when the header is missing or wrong.
import base64

from mod_pywebsocket import handshake


def web_socket_do_extra_handshake(request):
    expected = "Basic " + base64.b64encode(b"foo:bar").decode()
    if request.headers_in.get("Authorization") != expected:
        request.connection.write(
            b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="camelot"\r\nContent-Length: 0\r\n\r\n'
        )
        raise handshake.AbortedByUserException("Abort the connection")


def web_socket_transfer_data(request):
    request.ws_stream.send_message("authenticated", binary=False)
