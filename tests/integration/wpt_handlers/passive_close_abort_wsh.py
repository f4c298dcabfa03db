# On the client's close: drop TCP without a close frame.
from mod_pywebsocket.handshake import AbortedByUserException


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.receive_message()


def web_socket_passive_closing_handshake(request):
    raise AbortedByUserException("abort the closing handshake")
