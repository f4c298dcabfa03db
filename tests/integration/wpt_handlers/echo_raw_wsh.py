# After the handshake: frames built by hand and written raw, then raw bytes read back.
from pywebsocket3 import msgutil, stream


def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []


def web_socket_transfer_data(request):
    message = msgutil.receive_message(request)
    request.connection.write(stream.create_text_frame("raw:" + message))
    request.connection.write(stream.create_binary_frame(b"\x00\x01\x02"))
    header = b""
    while len(header) < 6:  # a masked frame with a body under 126 bytes: 2 + 4 bytes
        header += request.connection.read(6 - len(header))
    length = header[1] & 0x7F
    mask, payload = header[2:6], b""
    while len(payload) < length:
        payload += request.connection.read(length - len(payload))
    unmasked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    msgutil.send_message(request, "read raw:" + unmasked.decode())
