# Faults on demand, for the hardening tests: ?where=extra|transfer|passive&how=raise|block
# "block" never returns (it sleeps forever, ignoring the client).
import time
from urllib.parse import parse_qs, urlsplit


def _fault(request, where):
    query = parse_qs(urlsplit(request.ws_resource).query)
    if query.get("where", [""])[0] != where:
        return
    if query.get("how", [""])[0] == "block":
        while True:
            time.sleep(3600)
    raise RuntimeError(f"fault_wsh: deliberate failure in {where}")


def web_socket_do_extra_handshake(request):
    _fault(request, "extra")


def web_socket_transfer_data(request):
    _fault(request, "transfer")
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(message, binary=isinstance(message, bytes))


def web_socket_passive_closing_handshake(request):
    _fault(request, "passive")
    return request.ws_close_code, request.ws_close_reason
