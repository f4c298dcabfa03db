"""Pings, then reads the client's pong as a raw frame (``_receive_frame``), as browser
vendors' handlers do, and reports what it read."""

from pywebsocket3 import common, msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    msgutil.send_ping(request, "probe")
    opcode, payload, fin, rsv1, rsv2, rsv3 = request.ws_stream._receive_frame()
    ok = (opcode, payload, fin, rsv1, rsv2, rsv3) == (common.OPCODE_PONG, b"probe", 1, 0, 0, 0)
    msgutil.send_message(request, "PASS" if ok else f"FAIL {opcode} {payload!r}")
