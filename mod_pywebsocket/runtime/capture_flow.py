"""Capturing a connection (``WS_CAPTURE``): when the flow starts and ends one.

``start()`` runs once the handshake succeeded: it records the opening handshake (in
HTTP/1.1 form: over HTTP/2 and HTTP/3 the real one is an extended CONNECT, which the
packet's comment says); the flow hooks the capture onto the stream, which hands it
every byte read and written from then on. ``finish()`` gives it to the store with the
connection's summary as the file's comment; the store keeps it or not (``errors``:
only connections that ended abnormally or whose handler raised).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core import constants
from ..core.handshake import build_response, compute_accept
from . import connections_page
from .capture import CaptureStore, ConnectionCapture
from .connection_summary import ConnectionSummary, endpoints
from .interfaces import Request

#: Headers left out of the request as shown: mod_http2's internal request for an RFC 8441
#: stream says ``Transfer-Encoding: chunked`` (its body is the stream), which would make
#: Wireshark read the frames as chunks.
_NOT_SHOWN = frozenset({"transfer-encoding", "content-length"})
KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class CapturePolicy:
    """What the settings say: the store (folder, mode, total cap) and each connection's caps."""

    store: CaptureStore
    frame_bytes: int = 4 * KiB
    connection_bytes: int = 4 * MiB


def policy_from(values: Mapping[str, Any]) -> CapturePolicy | None:
    """The policy the settings (``settings.SETTINGS``' ``capture*``) describe; None when off."""
    mode = values.get("capture") or "off"
    if mode == "off":
        return None
    store = CaptureStore(values.get("capture_dir") or "captures", mode, values["capture_total_bytes"])
    return CapturePolicy(store, values["capture_frame_bytes"], values["capture_connection_bytes"])


def start(policy: CapturePolicy | None, request: Request, summary: ConnectionSummary) -> ConnectionCapture | None:
    """A capture of this connection, its handshake recorded; None when capture is off."""
    if policy is None or not policy.store.wants():
        return None
    peer, local = endpoints(request)
    capture = ConnectionCapture(
        peer=peer,
        local=local,
        transport=summary.transport,
        resource=request.ws_resource,
        frame_bytes=policy.frame_bytes,
        connection_bytes=policy.connection_bytes,
    )
    comment = ""
    if summary.transport in ("HTTP/2", "HTTP/3"):
        comment = (
            f"{summary.transport}: the handshake was an extended CONNECT (:protocol websocket) answered with "
            ":status 200; shown here as the HTTP/1.1 upgrade it stands for"
        )
    capture.handshake(_request_head(request), _response_head(request, summary), comment)
    return capture


def finish(policy: CapturePolicy | None, capture: ConnectionCapture | None, summary: ConnectionSummary) -> None:
    """Give the capture to the store (the summary names the file it was kept in), and
    write the connection's page on ``/connections/``."""
    if policy is None or capture is None:
        return
    name = connections_page.file_name(summary)
    path = policy.store.save(capture, name, file_comment(summary), summary.abnormal)
    if path is not None:
        summary.capture = os.path.basename(path)
    connections_page.record(policy.store.directory, summary, capture.frames())


def file_comment(summary: ConnectionSummary) -> str:
    """The capture file's comment: the connection's line, and its id."""
    return f"mod_pywebsocket connection {summary.connection}: {summary.text()}"


def _request_head(request: Request) -> bytes:
    lines = [f"GET {request.uri} HTTP/1.1"]
    names = set()
    for name, value in _header_items(request.headers_in):
        if name.startswith(":") or name.lower() in _NOT_SHOWN:
            continue
        names.add(name.lower())
        lines.append(f"{name}: {value}")
    if "host" not in names:
        authority = request.headers_in.get(":authority")
        if authority:
            lines.insert(1, f"Host: {authority}")
    if "upgrade" not in names:
        lines.append("Upgrade: websocket")
    if "connection" not in names:
        lines.append("Connection: Upgrade")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")


def _response_head(request: Request, summary: ConnectionSummary) -> bytes:
    """The 101 the handshake sent (over HTTP/2 and 3: the one its 200 stands for)."""
    key = request.headers_in.get(constants.SEC_WEBSOCKET_KEY_HEADER)
    accept = compute_accept(key.strip()) if key else None
    return build_response(accept, summary.subprotocol, summary.extensions, request.extra_headers)


def _header_items(headers: object) -> list[tuple[str, str]]:
    items = getattr(headers, "items", None)
    if callable(items):
        return [(str(k), str(v)) for k, v in items()]
    return []
