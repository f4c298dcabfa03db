# Refuses every handshake: the client must see 403.
def web_socket_do_extra_handshake(request):
    raise ValueError("reject_wsh: not today")


def web_socket_transfer_data(request):
    pass
