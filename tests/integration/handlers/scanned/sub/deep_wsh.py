def web_socket_transfer_data(request):
    request.ws_stream.send_message(request.ws_resource)
    request.ws_stream.receive_message()
