# AbortedByUserException from transfer_data: the connection drops with nothing more written.
from pywebsocket3 import handshake, msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    msgutil.send_message(request, "about to abort")
    msgutil.receive_message(request)
    raise handshake.AbortedByUserException("abort after one message")
