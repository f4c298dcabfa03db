"""A passive-close hook that echoes the client's code and reason: after an empty close
that is 1005, which no close frame may carry."""

from pywebsocket3 import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while msgutil.receive_message(request) is not None:
        pass


def web_socket_passive_closing_handshake(request):
    return request.ws_close_code, request.ws_close_reason
