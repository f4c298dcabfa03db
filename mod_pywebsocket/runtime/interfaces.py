"""What the runtime's layers ask of each other, and of an embedder's objects: ``typing.Protocol``s.

``Connection``       ``request.connection``: what an adapter, or another server, hands the stream
``TimedConnection``  a connection whose reads can be timed (the client-conformance cases)
``Request``          what the handshake, the stream and the dispatcher read and write on a request
``MessageStream``    ``request.ws_stream`` as handlers and the dispatcher use it
``RuntimeStream``    what the runtime also asks of a stream it made (``blocking_stream.Stream``)
``HandlerHooks``     a dispatcher as the handshake uses it: pywebsocket3's, or one suite's
``FrameFilter``, ``OutgoingMessageFilter``, ``IncomingMessageFilter``: pywebsocket3's
filters, which an extension processor of a handler's own installs (``StreamOptions``)

docs/migrating.md gives the same contract for embedders (wptserve).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..core.extension_processor import ExtensionProcessorInterface
    from ..core.frames import Frame
    from ..core.headers import ExtensionParameter


class Connection(Protocol):
    """``request.connection``: what a connection must provide (docs/migrating.md's table).

    Optional, each read where it is used with the default given here: ``remote_addr``
    and ``local_addr``, ``(host, port)`` for the log ("?"); ``read_returns_available``,
    ``True`` when ``read(n)`` returns whatever has arrived as a socket does (else reads
    are sized to what the frame in progress needs); ``set_read_timeout``
    (``TimedConnection``). This package's own connections have the first three; the
    standalone server's, and Apache's with the ``_apacheio`` accelerator, the fourth.
    """

    def read(self, n: int, /) -> bytes:
        """Up to ``n`` bytes; ``b""`` once the peer is gone."""
        ...

    def write(self, data: bytes, /) -> object:
        """Send all of ``data``."""
        ...


@runtime_checkable
class TimedConnection(Connection, Protocol):
    def set_read_timeout(self, seconds: float | None, /) -> None:
        """From now on a read that finds nothing within ``seconds`` raises TimeoutError
        (None: the connection's own timeout again)."""
        ...


class Headers(Protocol):
    """``request.headers_in``: a case-insensitive lookup (mod_python's table, an HTTP message)."""

    def get(self, name: str, /) -> str | None: ...


class MessageStream(Protocol):
    """``request.ws_stream`` as handlers and the dispatcher use it."""

    def receive_message(self) -> str | bytes | None: ...

    def send_message(self, message: str | bytes, end: bool = True, binary: bool = False) -> None: ...

    def close_connection(self, code: int | None = ..., reason: str = "", wait_response: bool = True) -> None: ...


@runtime_checkable
class RuntimeStream(MessageStream, Protocol):
    """What the runtime also asks of the stream it made (``blocking_stream.Stream``).

    A stream a handler put in ``request.ws_stream`` may lack these: the runtime then
    goes without them (``blocking_stream.runtime_stream``).
    """

    def stop_sending(self, code: int = ..., reason: str = "") -> None:
        """A stopping server's close is coming: sends end from now on."""
        ...

    def finish_writes(self) -> None:
        """Return once no frame is being written, by any thread."""
        ...

    def release_buffers(self) -> None:
        """Give back the buffer budget the stream holds."""
        ...

    #: what sees the bytes each way (a capture, or the log line's count), or None
    tap: ByteTap | None

    @property
    def messages_received(self) -> int:
        """Whole messages received (and below, sent), and our close: the connection's summary."""
        ...

    @property
    def messages_sent(self) -> int: ...

    @property
    def sent_close_code(self) -> int | None: ...

    @property
    def sent_close_reason(self) -> str | None: ...


class Request(Protocol):
    """What the runtime reads and writes on a request: ``request.WebSocketRequest``, or
    an embedder's own with the same names (wptserve's; docs/migrating.md).

    The HTTP facts are read; the ``ws_*`` attributes are the handshake's, which the
    handler's hooks may change (pywebsocket's contract); ``server_terminated`` and
    ``client_terminated`` are the stream's, which handlers poll.
    """

    @property
    def method(self) -> str: ...

    @property
    def protocol(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def headers_in(self) -> Headers: ...

    @property
    def connection(self) -> Connection: ...

    ws_resource: str
    ws_version: int | None
    ws_origin: str | None
    ws_protocol: str | None
    ws_requested_protocols: list[str] | None
    ws_requested_extensions: list[ExtensionParameter] | None
    ws_extensions: list[ExtensionParameter] | None
    ws_extension_processors: list[ExtensionProcessorInterface | None]
    extra_headers: list[tuple[str, str]]
    ws_stream: MessageStream | None
    ws_close_code: int | None
    ws_close_reason: str | None
    server_terminated: bool
    client_terminated: bool


#: A handler's ``web_socket_passive_closing_handshake``: the close that answers the peer's.
PassiveClosingHook = Callable[[Request], tuple[int | None, str | None]]


class HandlerHooks(Protocol):
    """A dispatcher as the handshake uses it: pywebsocket3's ``Dispatcher`` (which finds
    the request's suite itself), or ``suite_hooks.SuiteHooks`` (one suite, given)."""

    def do_extra_handshake(self, request: Request) -> None: ...

    def passive_closing_handshake(self, request: Request) -> tuple[int | None, str | None]: ...


class ByteTap(Protocol):
    """Sees the bytes of a WebSocket connection each way after its handshake, as they are
    read and written, and counts them (``runtime.capture.ConnectionCapture``,
    ``connection_summary.ByteCount``)."""

    def received(self, data: bytes, /) -> None: ...

    def sent(self, data: bytes, /) -> None: ...

    @property
    def bytes_received(self) -> int: ...

    @property
    def bytes_sent(self) -> int: ...


class FrameFilter(Protocol):
    """Changes a frame in place (on its way out, or as it arrives)."""

    def filter(self, frame: Frame, /) -> object: ...


class OutgoingMessageFilter(Protocol):
    def filter(self, message: str | bytes, end: bool, binary: bool, /) -> str | bytes: ...


class IncomingMessageFilter(Protocol):
    def filter(self, message: bytes, /) -> bytes: ...
