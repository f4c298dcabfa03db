# What a handler can read of its request, and whether both import names give the same modules.
import json

import pywebsocket3
from pywebsocket3 import common as common3
from pywebsocket3 import dispatch as dispatch3
from pywebsocket3 import handshake as handshake3
from pywebsocket3 import msgutil as msgutil3
from pywebsocket3 import standalone as standalone3
from pywebsocket3 import stream as stream3
from pywebsocket3 import util as util3
from pywebsocket3.handshake import base as base3
from pywebsocket3.handshake import hybi as hybi3

import mod_pywebsocket
from mod_pywebsocket import common, dispatch, handshake, msgutil, standalone, stream, util
from mod_pywebsocket.handshake import base, hybi

_PAIRS = {
    "common": (common, common3),
    "msgutil": (msgutil, msgutil3),
    "stream": (stream, stream3),
    "util": (util, util3),
    "handshake": (handshake, handshake3),
    "handshake.hybi": (hybi, hybi3),
    "handshake.base": (base, base3),
    "dispatch": (dispatch, dispatch3),
    "standalone": (standalone, standalone3),
}


def web_socket_do_extra_handshake(request):
    request.ws_cookie = request.headers_in.get("Cookie")  # handlers attach their own attributes


def web_socket_transfer_data(request):
    same = {name: ours is theirs for name, (ours, theirs) in _PAIRS.items()}
    key = request.headers_in["Sec-WebSocket-Key"]
    headers = request.headers_in
    info = {
        "same_modules": same,
        "same_package": pywebsocket3 is mod_pywebsocket,
        "uri": request.uri,
        "unparsed_uri": request.unparsed_uri,
        "ws_resource": request.ws_resource,
        "method": request.method,
        "protocol": request.protocol,
        "is_https": request.is_https(),
        "ws_origin": request.ws_origin,
        "ws_version": request.ws_version,
        "ws_cookie": request.ws_cookie,
        "referer": request.headers_in.get("referer"),
        "key_any_case": key == headers.get("sec-websocket-key") == headers.get("SEC-WEBSOCKET-KEY"),
        "ws_requested_extensions": [e.name() for e in request.ws_requested_extensions or []],
        "no_status": common.STATUS_NO_STATUS_RECEIVED,
        "remote_addr_host": request.connection.remote_addr[0],
    }
    msgutil.send_message(request, json.dumps(info))
    msgutil.receive_message(request)
