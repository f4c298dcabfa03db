"""Say which replica this is, then echo: the first message is the host name, which in a
container is its (short) id; every message after that comes back unchanged.

Used by tests/integration/test_scale_out.py to see where the balancer sent a connection.
"""

import socket

from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    msgutil.send_message(request, socket.gethostname())
    while True:
        message = msgutil.receive_message(request)
        if message is None:
            return
        msgutil.send_message(request, message, binary=isinstance(message, bytes))
