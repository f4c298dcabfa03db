# Written the way third-party pywebsocket handlers are: msgutil, common and the
# handshake exception by their old names, a passive closing hook, extra headers.
from mod_pywebsocket import common, msgutil
from mod_pywebsocket.handshake import AbortedByUserException  # noqa: F401  (imported as such handlers do)


def web_socket_do_extra_handshake(request):
    request.extra_headers.append(("X-Legacy", "yes"))
    if request.ws_requested_protocols:
        request.ws_protocol = request.ws_requested_protocols[-1]


def web_socket_transfer_data(request):
    msgutil.send_message(
        request,
        "origin=%s protocol=%s version=%d"
        % (
            request.ws_origin,
            request.ws_protocol,
            request.ws_version,
        ),
    )
    while True:
        line = msgutil.receive_message(request)
        if line is None:
            return
        if isinstance(line, str) and line == "Goodbye":
            request.ws_stream.close_connection(common.STATUS_GOING_AWAY, "legacy bye")
            return
        msgutil.send_message(request, line, binary=not isinstance(line, str))
        if request.ws_stream.get_last_received_opcode() == common.OPCODE_TEXT:
            msgutil.send_ping(request, "p")


def web_socket_passive_closing_handshake(request):
    return common.STATUS_NORMAL_CLOSURE, "legacy passive"
