"""Close from the server side: send "CODE REASON" (e.g. "4001 bye") and the server closes with it.

Any other message is echoed. The client's own close is answered with its code and reason.
"""


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        if isinstance(message, str):
            code, _, reason = message.partition(" ")
            if code.isdigit():
                request.ws_stream.close_connection(int(code), reason)
                return
        request.ws_stream.send_message(message, binary=isinstance(message, bytes))


def web_socket_passive_closing_handshake(request):
    return request.ws_close_code, request.ws_close_reason
