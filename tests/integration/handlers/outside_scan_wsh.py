# Lies outside WS_HANDLER_SCAN in the test container, so it must never be served.
def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.send_message("outside scan dir was loaded")
