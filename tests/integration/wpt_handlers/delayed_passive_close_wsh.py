# The reply to the client's close comes a second late.
import time

from mod_pywebsocket import common


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while request.ws_stream.receive_message() is not None:
        pass


def web_socket_passive_closing_handshake(request):
    time.sleep(1)
    code = request.ws_close_code
    if code == common.STATUS_NO_STATUS_RECEIVED:
        return None, None
    return code, request.ws_close_reason
