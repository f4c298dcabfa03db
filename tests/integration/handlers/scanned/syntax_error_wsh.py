# A broken handler file must not stop the others from loading.
def web_socket_transfer_data(request)
    pass
