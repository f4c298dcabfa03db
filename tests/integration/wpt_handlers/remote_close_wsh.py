# The server closes first, with the code and reason from the query (none: an empty close).
import urllib.parse

from pywebsocket3 import common


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    code = reason = None
    if "?" in request.unparsed_uri:
        params = urllib.parse.parse_qs(request.unparsed_uri.split("?", 1)[1])
        if "code" in params:
            code = int(params["code"][0])
        if "reason" in params:
            reason = params["reason"][0]
    request.ws_stream.close_connection(code, reason)
    # The reply arrived: what did the client say?
    request.ws_remote_close = (request.ws_close_code, request.ws_close_reason)


def web_socket_passive_closing_handshake(request):
    code = request.ws_close_code
    if code == common.STATUS_NO_STATUS_RECEIVED:
        code = None
    return code, request.ws_close_reason
