"""How a connection ended, as its handler saw it; ``?report`` sends the last one.

The first connection reads until the end (a close, or an exception: a reset stream or
a lost QUIC connection must reach it, not hang it); a second one asks for the record.
"""

import threading

from mod_pywebsocket.msgutil import ConnectionTerminatedException

_ended = threading.Event()
_outcome = []


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    if request.ws_resource.endswith("?report"):
        _ended.wait(20)
        request.ws_stream.send_message(_outcome[-1] if _outcome else "still running")
        _ended.clear()
        return
    try:
        while request.ws_stream.receive_message() is not None:
            pass
        _outcome.append(f"closed {request.ws_close_code}")
    except ConnectionTerminatedException as e:
        _outcome.append(f"terminated: {type(e).__name__}")
    finally:
        _ended.set()
