# Echo, close on "Goodbye", echo the client's close code and reason.
from pywebsocket3 import common, msgutil

_GOODBYE = "Goodbye"


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        line = request.ws_stream.receive_message()
        if line is None:
            return
        if isinstance(line, str):
            request.ws_stream.send_message(line, binary=False)
            if line == _GOODBYE:
                return
        else:
            request.ws_stream.send_message(line, binary=True)


def web_socket_passive_closing_handshake(request):
    code, reason = request.ws_close_code, request.ws_close_reason
    if code == common.STATUS_NO_STATUS_RECEIVED:
        code = None
        reason = None
    return code, reason


_ = msgutil
