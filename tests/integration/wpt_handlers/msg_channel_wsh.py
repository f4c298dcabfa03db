# A channel between connections (?id=...): each message a member sends reaches every other
# member. A reader thread receives while the handler's thread sends, and polls the
# terminated flags the stream keeps.
import queue
import threading
import urllib.parse

from mod_pywebsocket import msgutil, stream

_channels = {}
_lock = threading.Lock()


def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []


def _channel_id(request):
    query = urllib.parse.urlsplit(request.unparsed_uri).query
    return urllib.parse.parse_qs(query).get("id", ["default"])[0]


def web_socket_transfer_data(request):
    channel, inbox = _channel_id(request), queue.Queue()
    with _lock:
        members = _channels.setdefault(channel, [])
        members.append(inbox)
        joined = len(members)  # counted under the lock: another member may join at once

    def read():
        while True:
            try:
                message = msgutil.receive_message(request)
            except stream.ConnectionTerminatedException:
                return
            if message is None:
                return
            with _lock:
                for member in _channels.get(channel, []):
                    if member is not inbox:
                        member.put(message)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    msgutil.send_message(request, f"joined {joined}")
    try:
        while not (request.client_terminated or request.server_terminated):
            try:
                message = inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                request.ws_stream.send_message(message, binary=not isinstance(message, str))
            except stream.BadOperationException:
                break
    finally:
        with _lock:
            members.remove(inbox)
            if not members:
                _channels.pop(channel, None)
        reader.join(5)
