"""Send what the handler sees of its request, as JSON."""

import json


def web_socket_do_extra_handshake(request):
    if request.ws_requested_protocols:
        request.ws_protocol = request.ws_requested_protocols[-1]
    request.extra_headers.append(("X-Seen-By", "whoami"))


def web_socket_transfer_data(request):
    seen = {
        "protocol": request.protocol,
        "method": request.method,
        "resource": request.ws_resource,
        "origin": request.ws_origin,
        "subprotocol": request.ws_protocol,
        "requested": request.ws_requested_protocols,
        "version": request.ws_version,
        "host": request.headers_in.get("Host"),
        "https": request.is_https(),
        "remote_is_tuple": isinstance(request.connection.remote_addr, tuple),
    }
    request.ws_stream.send_message(json.dumps(seen))
    request.ws_stream.receive_message()
