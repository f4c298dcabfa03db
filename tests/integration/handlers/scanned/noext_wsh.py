# Refuses every extension (permessage-deflate included), as pywebsocket's echo_noext did.
def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []


def web_socket_transfer_data(request):
    request.ws_stream.send_message(repr(request.ws_extensions))
    while (message := request.ws_stream.receive_message()) is not None:
        request.ws_stream.send_message(message, binary=isinstance(message, bytes))
