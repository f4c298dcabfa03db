# Old handlers write str, not bytes: a custom response, then an abort.
from mod_pywebsocket import handshake


def web_socket_do_extra_handshake(request):
    request.connection.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\n\r\n')
    raise handshake.AbortedByUserException("unauthorized")


def web_socket_transfer_data(request):
    pass
