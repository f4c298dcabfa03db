from mod_pywebsocket.handshake import AbortedByUserException


def web_socket_do_extra_handshake(request):
    raise AbortedByUserException("abort_wsh: drop the connection")


def web_socket_transfer_data(request):
    pass
