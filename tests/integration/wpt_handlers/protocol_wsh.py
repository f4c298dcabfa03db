# Subprotocol handling, chosen by ?mode=: first, header (the raw header value), none, unrequested.
import urllib.parse

from mod_pywebsocket import msgutil


def _mode(request):
    query = request.unparsed_uri.split("?", 1)[1] if "?" in request.unparsed_uri else ""
    return urllib.parse.parse_qs(query).get("mode", ["first"])[0]


def web_socket_do_extra_handshake(request):
    mode = _mode(request)
    if mode == "first":
        request.ws_protocol = request.ws_requested_protocols[0]
    elif mode == "header":
        request.ws_protocol = request.headers_in.get("sec-websocket-protocol")
    elif mode == "none":
        request.ws_requested_protocols = None
    elif mode == "unrequested":
        request.ws_protocol = "foobar"


def web_socket_transfer_data(request):
    msgutil.send_message(request, repr(request.ws_protocol))
