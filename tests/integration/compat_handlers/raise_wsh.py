"""Raises after the first message: 1011 (rfc) or TCP dropped (pywebsocket3)."""


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.receive_message()
    raise RuntimeError("this handler fails on purpose")
