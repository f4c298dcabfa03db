"""Answers the handshake itself with a str on the raw connection: sent as UTF-8 (rfc), or
the TypeError of pywebsocket3's socket, which refuses the handshake with 403."""

from pywebsocket3.handshake import AbortedByUserException


def web_socket_do_extra_handshake(request):
    request.connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    raise AbortedByUserException("answered by the handler")


def web_socket_transfer_data(request):
    pass
