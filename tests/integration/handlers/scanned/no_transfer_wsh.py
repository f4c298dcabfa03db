# No web_socket_transfer_data: logged at start-up and answered 404.
def web_socket_do_extra_handshake(request):
    pass
