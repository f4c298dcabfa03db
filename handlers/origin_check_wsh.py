"""Accept only pages from the origins listed in ORIGINS; everyone else gets 403."""

ORIGINS = ("http://127.0.0.1:8080", "https://127.0.0.1:8443", "http://localhost:8080", "https://localhost:8443")


def web_socket_do_extra_handshake(request):
    if request.ws_origin not in ORIGINS:
        raise ValueError(f"origin {request.ws_origin!r} is not allowed")


def web_socket_transfer_data(request):
    request.ws_stream.send_message(f"hello {request.ws_origin}")
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(message, binary=isinstance(message, bytes))
