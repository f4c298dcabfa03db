# Written against pywebsocket3's import name, as web-platform-tests' newer handlers are.
from pywebsocket3 import common, msgutil
from pywebsocket3.handshake import hybi


def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []


def web_socket_transfer_data(request):
    while True:
        line = msgutil.receive_message(request)
        if line is None:
            return
        if line == "accept":
            key = request.headers_in.get("Sec-WebSocket-Key")
            msgutil.send_message(request, hybi.compute_accept_from_unicode(key).decode())
        else:
            msgutil.send_message(request, f"{common.STATUS_NORMAL_CLOSURE}:{line}")
