# A ping with a str body, a close with an empty body.
from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.send_ping("ping")
    msgutil.send_message(request, "pinged")
    msgutil.receive_message(request)
    request.ws_stream.close_connection(None, None)
