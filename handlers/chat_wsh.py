"""A chat room: every text message is sent to every client connected to this resource.

Clients are tracked in a module-level set, so the room spans one server process
(under Apache, one child; the image runs few children, each with many threads).
"""

import threading

_clients = set()
_lock = threading.Lock()


def web_socket_do_extra_handshake(request):
    pass


def _broadcast(message):
    with _lock:
        clients = list(_clients)
    for client in clients:
        try:
            client.ws_stream.send_message(message)
        except Exception:
            with _lock:
                _clients.discard(client)


def web_socket_transfer_data(request):
    with _lock:
        _clients.add(request)
    try:
        while True:
            message = request.ws_stream.receive_message()
            if message is None:
                return
            if isinstance(message, str):
                _broadcast(message)
    finally:
        with _lock:
            _clients.discard(request)
