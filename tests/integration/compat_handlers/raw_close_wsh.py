"""Writes its own close frame on the raw connection, says so (``server_terminated``) and
waits for the client's reply: nothing more may be written after it."""

from pywebsocket3 import stream


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.connection.write(stream.create_close_frame((4001).to_bytes(2, "big") + b"raw"))
    request.server_terminated = True
    request.ws_stream.receive_message()
