"""The server closes: the first message is "CODE REASON"."""


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    code, _, reason = request.ws_stream.receive_message().partition(" ")
    request.ws_stream.close_connection(int(code), reason)
