"""Sends a str as a binary message: BadOperationException, which the server answers with
close 1011 in both profiles, as pywebsocket3 did."""

from pywebsocket3 import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    message = msgutil.receive_message(request)
    msgutil.send_message(request, message, binary=True)
