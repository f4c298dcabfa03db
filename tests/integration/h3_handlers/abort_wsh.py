"""AbortedByUserException after the handshake: the connection is dropped (a stream reset)."""

from mod_pywebsocket.handshake import AbortedByUserException


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    raise AbortedByUserException("abort the stream")
