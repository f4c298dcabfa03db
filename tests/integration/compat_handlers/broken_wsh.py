"""Does not load: 500 (rfc) or no handler at all, 404 (pywebsocket3)."""

def web_socket_transfer_data(request)
    pass
