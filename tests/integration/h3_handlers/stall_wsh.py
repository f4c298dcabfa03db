"""A handler that does not read for 2 s, then says how much had arrived unread and echoes
the length of each message: over HTTP/3 the flow control bounds what a client can send
to a handler that is not reading, as a TCP receive window does."""

import time


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    time.sleep(2)
    request.ws_stream.send_message(f"unread {getattr(request.connection, 'unread', -1)}")
    while (message := request.ws_stream.receive_message()) is not None:
        request.ws_stream.send_message(str(len(message)))
