# Sends from several threads while another closes: nothing may follow the close frame.
# ?threads=N&size=BYTES&kind=text|binary|mixed&fragments=0|1&delay_ms=D&close=handler|server
# close=handler: the main thread calls close_connection(1001) after delay_ms; close=server:
# nobody does, the server's shutdown (close_all) sends the close while the senders run.
import random
import threading
import time
import urllib.parse

from mod_pywebsocket.msgutil import BadOperationException, ConnectionTerminatedException


def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []  # the client parses raw frames


def _params(request):
    query = request.ws_resource.partition("?")[2]
    return {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}


def _sender(stream, binary, size, fragments, stop):
    payload = b"\x00\xff" * (size // 2) if binary else "\u00e9" * (size // 2)  # non-ASCII: encoding takes time
    try:
        while not stop.is_set():
            if fragments:
                stream.send_message(payload[:100], end=False, binary=binary)
                stream.send_message(payload, end=False, binary=binary)
                stream.send_message(payload[:100], end=True, binary=binary)
            else:
                stream.send_message(payload, binary=binary)
    except (BadOperationException, ConnectionTerminatedException):
        pass


def web_socket_transfer_data(request):
    params = _params(request)
    count = int(params.get("threads", "1"))
    size = int(params.get("size", "65536"))
    kind = params.get("kind", "text")
    fragments = params.get("fragments") == "1" and count == 1  # several threads would interleave fragments
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_sender,
            args=(request.ws_stream, kind == "binary" or (kind == "mixed" and i % 2 == 1), size, fragments, stop),
            daemon=True,
        )
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    if params.get("close", "handler") == "handler":
        time.sleep(int(params.get("delay_ms", "5")) / 1000 * random.random())
        request.ws_stream.close_connection(1001, wait_response=False)
    for thread in threads:
        thread.join(60)
    stop.set()
