"""One WebSocket connection in one line: what the log, the capture and ``/connections/`` say.

``ConnectionSummary`` is filled in by the flow (``runtime.flow``) as the connection goes:
who came over what, to which handler, and, at its end, what went each way, how it
closed and what the handler raised. ``log()`` writes it as the connection's one line at
``info`` (text: readable; JSON: every field, see ``log_format``).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from ..core.headers import format_extensions
from .interfaces import Request, RuntimeStream
from .listeners import host_port

_log = logging.getLogger("mod_pywebsocket.connection")

#: Close codes that say an endpoint failed (RFC 6455 7.4.1, and 1006/1015 which no frame
#: carries): protocol error, unacceptable or inconsistent data, policy, too big, missing
#: extension, internal error, bad gateway, TLS. 1000, 1001, 1005 and 3000-4999 are not.
ERROR_CLOSE_CODES = frozenset({1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011, 1014, 1015})


def http_version(request: Request) -> str:
    """What the WebSocket came over: ``HTTP/1.1``, ``HTTP/2`` (Apache says ``HTTP/2.0``) or
    ``HTTP/3`` (the client-conformance reports' transport)."""
    protocol = str(request.protocol)
    for version in ("HTTP/2", "HTTP/3"):
        if protocol.startswith(version):
            return version
    return "HTTP/1.1"


def transport_of(request: Request) -> str:
    """``http_version``, with HTTP/1.1 as ``ws`` or ``wss``."""
    version = http_version(request)
    if version != "HTTP/1.1":
        return version
    is_https = getattr(request, "is_https", None)
    return "wss" if callable(is_https) and is_https() else "ws"


def address_of(address: object) -> tuple[str, int]:
    """``(host, port)`` of a socket address as the adapters give it (``("?", 0)`` if none)."""
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1]) if isinstance(address[1], int) else 0
    return "?", 0


def endpoints(request: Request) -> tuple[tuple[str, int], tuple[str, int]]:
    """The peer's and our ``(host, port)``, from the request's connection."""
    connection = request.connection
    return address_of(getattr(connection, "remote_addr", None)), address_of(getattr(connection, "local_addr", None))


class ByteCount:
    """The ``ByteTap`` that only counts: what a connection's log line needs of its bytes
    when it is not captured (none at all when the line is not logged)."""

    def __init__(self) -> None:
        self.bytes_received = 0
        self.bytes_sent = 0

    def received(self, data: bytes) -> None:
        self.bytes_received += len(data)

    def sent(self, data: bytes) -> None:
        self.bytes_sent += len(data)


def wanted() -> bool:
    """Whether connections' lines are logged (``info``): only then are their bytes counted."""
    return _log.isEnabledFor(logging.INFO)


@dataclass
class HandlerError:
    """What a handler raised: the exception, and where in the handler's file."""

    type: str
    message: str
    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.type}: {self.message} ({os.path.basename(self.file)}:{self.line} in {self.function})"


def handler_error(exc: BaseException, handler_path: str | None) -> HandlerError:
    """``exc``'s innermost frame in the handler's file (else its innermost frame at all)."""
    frames = traceback.extract_tb(exc.__traceback__)
    chosen = frames[-1] if frames else None
    if handler_path:
        real = os.path.realpath(handler_path)
        for frame in reversed(frames):
            if os.path.realpath(frame.filename) == real:
                chosen = frame
                break
    if chosen is None:
        return HandlerError(type(exc).__name__, str(exc), handler_path or "?", 0, "?")
    return HandlerError(type(exc).__name__, str(exc), chosen.filename, chosen.lineno or 0, chosen.name)


@dataclass
class ConnectionSummary:
    """One connection's fields (the JSON line's, ``/connections/``'s)."""

    connection: str
    transport: str
    resource: str
    handler: str
    peer: str
    local: str
    origin: str | None = None
    subprotocol: str | None = None
    extensions: str | None = None
    started: float = field(default_factory=time.time)
    duration: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    messages_out: int = 0
    close_in: int | None = None  # the peer's close code (1005: a close without one)
    close_in_reason: str | None = None
    close_out: int | None = None  # ours
    close_out_reason: str | None = None
    outcome: str = "open"  # closed, dropped (no closing handshake), aborted (by the handler)
    error: str | None = None  # what the handler raised, and where
    capture: str | None = None  # the capture file's name, when one was kept

    @classmethod
    def start(cls, connection: str, request: Request, handler: str) -> ConnectionSummary:
        peer, local = endpoints(request)
        return cls(
            connection=connection,
            transport=transport_of(request),
            resource=request.ws_resource,
            handler=handler,
            peer=host_port(*peer),
            local=host_port(*local),
        )

    def accepted(self, request: Request) -> None:
        """The handshake's results."""
        self.origin = request.ws_origin
        self.subprotocol = request.ws_protocol
        self.extensions = format_extensions(request.ws_extensions) if request.ws_extensions else None

    def ended(self, request: Request, stream: RuntimeStream | None, error: HandlerError | None, aborted: bool) -> None:
        """The end: counters and closes from ``stream`` (a ``blocking_stream.Stream``, or None)."""
        self.duration = time.time() - self.started
        if stream is not None:
            if stream.tap is not None:
                self.bytes_in, self.bytes_out = stream.tap.bytes_received, stream.tap.bytes_sent
            self.messages_in, self.messages_out = stream.messages_received, stream.messages_sent
            self.close_out, self.close_out_reason = stream.sent_close_code, stream.sent_close_reason
        self.close_in = request.ws_close_code if request.client_terminated else None
        self.close_in_reason = request.ws_close_reason if request.client_terminated else None
        if error is not None:
            self.error = str(error)
        if aborted:
            self.outcome = "aborted"
        elif self.close_in is not None and self.close_out is not None:
            self.outcome = "closed"
        else:
            self.outcome = "dropped"

    @property
    def abnormal(self) -> bool:
        """Whether ``WS_CAPTURE=errors`` keeps it: the handler raised, there was no closing
        handshake, or a close said something went wrong (``ERROR_CLOSE_CODES``)."""
        return (
            self.error is not None
            or self.outcome != "closed"
            or self.close_in in ERROR_CLOSE_CODES
            or self.close_out in ERROR_CLOSE_CODES
        )

    def fields(self) -> dict[str, Any]:
        return dict(self.__dict__)  # every field is a plain value (asdict's deep copy: 10x the time)

    def text(self) -> str:
        """The line's text: ``wss /echo from 172.17.0.1:51234, handler echo_wsh.py, ...``."""
        parts = [f"{self.transport} {self.resource} from {self.peer}", f"handler {os.path.basename(self.handler)}"]
        if self.origin:
            parts.append(f"origin {self.origin}")
        if self.subprotocol:
            parts.append(f"subprotocol {self.subprotocol}")
        if self.extensions:
            parts.append(f"extensions {self.extensions}")
        parts.append(f"in {self.messages_in} msg/{self.bytes_in} B, out {self.messages_out} msg/{self.bytes_out} B")
        parts.append(f"{self.duration:.3f} s")
        parts.append(
            f"{self.outcome}: close in {_close(self.close_in, self.close_in_reason)}, "
            f"out {_close(self.close_out, self.close_out_reason)}"
        )
        if self.error:
            parts.append(f"handler error {self.error}")
        if self.capture:
            parts.append(f"capture {self.capture}")
        return ", ".join(parts)

    def log(self) -> None:
        if wanted():  # the line is made only when it is written
            _log.info("%s", self.text(), extra={"fields": self.fields(), "connection": self.connection})


def _close(code: int | None, reason: str | None) -> str:
    if code is None:
        return "-"
    return f"{code} {reason!r}" if reason else str(code)
