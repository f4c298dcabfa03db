"""pywebsocket3's private request attributes: the one place the runtime reads or writes them.

Between its own layers the runtime passes what it knows as arguments: the flow hands
the handshake the handler suite and the stream options, the handshake hands the stream
its passive-close hook. Code written for pywebsocket3 has only the request to carry
such things, and sets or reads these:

``request._dispatcher``
    Set by wptserve's HTTP/2 handler (and web-platform-tests' HTTP/3 server) before
    ``dispatcher.transfer_data(request)``, as pywebsocket3's own servers did; this
    package's flow sets it too, for handlers that read it. Read only for a stream made
    without a passive-close hook (``Stream(request)``, as such code and tests make
    one): its dispatcher's ``passive_closing_handshake`` answers the peer's close.
``request._handler_suite``
    The suite a request served through pywebsocket3's calls runs:
    ``Dispatcher.do_extra_handshake(request)`` (an embedder's handshake) looks it up and
    keeps it here, so the passive close and ``transfer_data(request)`` run the same code
    even if its file is reloaded meanwhile. Tests that hand the dispatcher a suite of
    their own set it.
``request._stream_options``
    Set by embedders of earlier versions of this package instead of passing
    ``options`` to the handshake; read when none were passed.
``request._accept``
    pywebsocket3's ``Handshaker`` keeps the ``Sec-WebSocket-Accept`` value there from
    its ``_set_accept`` hook to its ``_send_handshake`` hook; subclasses override
    either, so the value stays where both look (and handlers see it, as they did).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .handler_files import HandlerSuite
    from .interfaces import HandlerHooks, PassiveClosingHook, Request
    from .stream_options import StreamOptions

_DISPATCHER = "_dispatcher"
_HANDLER_SUITE = "_handler_suite"
_STREAM_OPTIONS = "_stream_options"
_ACCEPT = "_accept"


def set_dispatcher(request: Request, dispatcher: HandlerHooks) -> None:
    """``request._dispatcher``, as pywebsocket3's servers set it once the handshake is done."""
    setattr(request, _DISPATCHER, dispatcher)


def embedders_passive_closing_hook(request: Request) -> PassiveClosingHook | None:
    """``request._dispatcher.passive_closing_handshake``, if someone set a dispatcher."""
    hook: PassiveClosingHook | None = getattr(getattr(request, _DISPATCHER, None), "passive_closing_handshake", None)
    return hook


def pinned_handler_suite(request: Request) -> HandlerSuite | None:
    """The suite ``pin_handler_suite`` kept on ``request`` (or a test set), if any."""
    suite: HandlerSuite | None = getattr(request, _HANDLER_SUITE, None)
    return suite


def pin_handler_suite(request: Request, suite: HandlerSuite) -> None:
    """Keep ``suite`` on ``request`` for pywebsocket3's later calls (a request that takes
    no new attributes simply does not keep it)."""
    try:
        setattr(request, _HANDLER_SUITE, suite)
    except AttributeError:
        pass


def embedders_stream_options(request: Request) -> StreamOptions | None:
    """``request._stream_options``, if an embedder set it."""
    options: StreamOptions | None = getattr(request, _STREAM_OPTIONS, None)
    return options


def set_accept(request: Request, accept: bytes) -> None:
    setattr(request, _ACCEPT, accept)


def accept_of(request: Request) -> bytes:
    """``request._accept``; AttributeError when ``_set_accept`` did not set it."""
    accept: bytes = getattr(request, _ACCEPT)
    return accept
