# Reports what the client offered and what was accepted, then echoes.
from mod_pywebsocket import common


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    offered = common.format_extensions(request.ws_requested_extensions or [])
    accepted = common.format_extensions(request.ws_extensions or [])
    request.ws_stream.send_message(f"offered: {offered} | accepted: {accepted}")
    while (message := request.ws_stream.receive_message()) is not None:
        request.ws_stream.send_message(message, binary=isinstance(message, bytes))
