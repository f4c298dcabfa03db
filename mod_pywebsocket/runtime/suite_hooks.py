"""One handler suite's hooks, run with pywebsocket's contract (``SuiteHooks``).

The flow looks a request's suite up once and passes it to the handshake (which runs
``do_extra_handshake`` and gives the stream ``passive_closing_handshake``) and to
``serve`` (``transfer_data``); ``dispatcher.Dispatcher`` runs the same for pywebsocket3's
calls, which find the suite by the request. ``transfer_data`` turns a handler's
failures into the right close code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core import constants
from ..core.errors import (
    AbortedByUserException,
    BadOperationException,
    ConnectionTerminatedException,
    InvalidUTF8Exception,
    UnsupportedFrameException,
)
from . import compat
from .blocking_stream import default_passive_closing_handshake, runtime_stream
from .connection_summary import HandlerError, handler_error

if TYPE_CHECKING:
    from .handler_files import HandlerSuite
    from .interfaces import MessageStream, Request

_log = logging.getLogger("mod_pywebsocket.dispatch")


class SuiteHooks:
    """One handler suite's hooks, run with pywebsocket's contract (``interfaces.HandlerHooks``,
    and ``transfer_data``)."""

    def __init__(self, suite: HandlerSuite) -> None:
        self.suite = suite
        self.error: HandlerError | None = None  # what transfer_data raised, once it has

    def do_extra_handshake(self, request: Request) -> None:
        hook = self.suite.do_extra_handshake
        if hook is not None:
            hook(request)

    def passive_closing_handshake(self, request: Request) -> tuple[int | None, str | None]:
        hook = self.suite.passive_closing_handshake
        if hook is None:
            return default_passive_closing_handshake(request)
        return hook(request)

    def transfer_data(self, request: Request) -> None:
        """Run the handler's transfer_data, then finish the closing handshake.

        Errors close the connection with the matching code: 1002 for framing,
        1003 unsupported, 1007 bad UTF-8, 1011 for anything the handler raised (under
        pywebsocket3's profile that exception propagates, and the adapter drops TCP).
        ``AbortedByUserException`` propagates so the adapter drops the connection.
        It returns only once no frame is being written, so the caller may end the
        connection: another thread (a stopping server's close) may still be writing.
        """
        try:
            self._transfer_data(request)
        finally:
            stream = runtime_stream(request)
            if stream is not None:
                stream.finish_writes()

    def _transfer_data(self, request: Request) -> None:
        suite = self.suite
        try:
            suite.transfer_data(request)
        except AbortedByUserException:
            raise
        except ConnectionTerminatedException as e:
            _log.debug("%s: connection ended: %s", request.ws_resource, e)
            code: int | None = getattr(e, "close_code", None)  # its subclasses' (a failure's)
            _close_on_error(request, code, "")
            return
        except (InvalidUTF8Exception, UnsupportedFrameException) as e:
            _close_on_error(request, e.close_code, "")
            return
        except BadOperationException as e:
            # Expected when the server closed the session under the handler (shutdown).
            if not request.server_terminated:
                self.error = handler_error(e, suite.path)
            level = logging.DEBUG if request.server_terminated else logging.WARNING
            _log.log(level, "%s: bad operation in handler: %s", request.ws_resource, self.error or e)
            _close_on_error(request, constants.STATUS_INTERNAL_ENDPOINT_ERROR, "", wait=True)
            return
        except Exception as e:
            # Logged here, once, with the traceback, whichever profile answers it.
            self.error = handler_error(e, suite.path)
            _log.error("%s: handler %s raised %s", request.ws_resource, suite.path, self.error, exc_info=True)
            if not compat.active().close_on_handler_error:
                raise  # pywebsocket3's answer: the exception ends the connection, no close frame
            _close_on_error(request, constants.STATUS_INTERNAL_ENDPOINT_ERROR, "handler error", wait=True)
            return
        if not request.server_terminated:
            try:
                _stream_of(request).close_connection()
            except ConnectionTerminatedException as e:
                _log.debug("%s: no close reply: %s", request.ws_resource, e)


def _close_on_error(request: Request, code: int | None, reason: str, wait: bool = False) -> None:
    """Close with ``code`` unless a close went already. ``wait``: for the client's reply
    too, as pywebsocket3 did after a handler's error (the browser sees a clean close;
    closing TCP at once could cut the close off); not after a protocol failure."""
    if code is None or request.server_terminated:
        return
    try:
        _stream_of(request).close_connection(code, reason, wait_response=wait)
    except (ConnectionTerminatedException, BadOperationException):
        pass


def _stream_of(request: Request) -> MessageStream:
    """``request.ws_stream``; AttributeError, as ever, when no handshake made one."""
    stream = request.ws_stream
    if stream is None:
        raise AttributeError(f"{request.ws_resource}: no ws_stream (transfer_data before the opening handshake)")
    return stream
