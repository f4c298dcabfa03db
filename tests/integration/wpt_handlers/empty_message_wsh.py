# Empty text and binary messages both ways.
from pywebsocket3 import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    msgutil.send_message(request, "")
    request.ws_stream.send_message(b"", binary=True)
    while True:
        line = msgutil.receive_message(request)
        if line is None:
            return
        kind = "text" if isinstance(line, str) else "binary"
        msgutil.send_message(request, f"{kind}:{len(line)}")
