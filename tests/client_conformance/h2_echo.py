"""A client under test over HTTP/2 (RFC 8441): the suite's cases on streams of one connection.

The protocol side is this package's own sans-I/O core turned around (a
``ServerConnection`` that masks what it sends and accepts unmasked frames), so the
client echoes messages, answers pings and closes as RFC 6455 says; the transport is
``tests.h2client``. For tests: it checks that the suite runs over HTTP/2 and
records that transport, not how well some client does.
"""

from __future__ import annotations

import ssl

from mod_pywebsocket.core.connection import ServerConnection
from mod_pywebsocket.core.errors import ProtocolError
from mod_pywebsocket.core.messages import Close, Control, Message

from ..h2client import H2Connection


def run_case(h2: H2Connection, number: int, agent: str) -> None:
    ws = h2.open_websocket(f"/autobahn/runCase?case={number}&agent={agent}")
    if ws.status != 200:
        raise ConnectionError(f"runCase answered {ws.status}")
    client = ServerConnection(require_mask=False, mask_send=True, max_message_size=None)
    while True:
        pending = h2.data.get(ws.stream_id)
        if pending:
            client.receive_data(bytes(pending))
            pending.clear()
        try:
            event = client.next_event()
        except ProtocolError:
            ws_send(h2, ws, client.data_to_send())
            return
        if event is None:
            if ws.stream_id in h2.ended or ws.stream_id in h2.reset:
                return
            try:
                h2._pump()
            except (ConnectionError, OSError):
                return
            continue
        if isinstance(event, Message):
            data = event.data.encode("utf-8") if isinstance(event.data, str) else event.data
            ws_send(h2, ws, client.send_message(data, binary=not isinstance(event.data, str)))
        elif isinstance(event, Control) and event.opcode == 0x9:
            ws_send(h2, ws, client.send_pong(event.payload))
        elif isinstance(event, Close):
            if not client.close_sent:
                code = event.code if event.code not in (None, 1005) else None
                ws_send(h2, ws, client.send_close(code))
            return


def ws_send(h2: H2Connection, ws, data: bytes) -> None:
    conn = h2.conn
    view = memoryview(data)
    while view:
        h2.wait(lambda: conn.local_flow_control_window(ws.stream_id) > 0)
        size = min(len(view), conn.local_flow_control_window(ws.stream_id), conn.max_outbound_frame_size)
        conn.send_data(ws.stream_id, bytes(view[:size]))
        h2._flush()
        view = view[size:]


def run(host: str, port: int, context: ssl.SSLContext, numbers: list[int], agent: str) -> None:
    h2 = H2Connection(host, port, context)
    try:
        for number in numbers:
            run_case(h2, number, agent)
        ws = h2.open_websocket(f"/autobahn/updateReports?agent={agent}")
        while ws.stream_id not in h2.ended and ws.stream_id not in h2.reset:
            data = h2.data.get(ws.stream_id)
            if data and data[0] & 0x0F == 0x8:
                break
            h2._pump()
    finally:
        h2.close()
