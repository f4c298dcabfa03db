# Raises in transfer_data after the first message: the client must see close 1011.
def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.receive_message()
    raise RuntimeError("raise_wsh: deliberate failure")
