"""Map resources to handler suites and run the handlers' hooks with pywebsocket's contract.

Finding, loading and reloading the files is ``handler_files``'s job; this
module answers which suite serves a request and runs its hooks, turning their
failures into the right close code.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from urllib.parse import unquote

from ..core import constants
from ..core.errors import (
    AbortedByUserException,
    BadOperationException,
    ConnectionTerminatedException,
    DispatchException,
    InvalidUTF8Exception,
    UnsupportedFrameException,
)
from . import compat, settings
from .blocking_stream import default_passive_closing_handshake
from .handler_files import HANDLER_SUFFIX, HandlerSuite, HandlerTable, is_within, load_handler_file

__all__ = ["DispatchException", "Dispatcher", "HandlerSuite", "HANDLER_SUFFIX", "load_handler_file"]

_log = logging.getLogger("mod_pywebsocket.dispatch")
HANDLER_RELOAD_DEFAULT: bool = settings.default("handler_reload")


class Dispatcher:
    """Maps resources to handler suites and runs the handlers' hooks.

    ``reload`` (on by default, as everywhere: ``settings``' ``handler_reload``) picks
    up handler files that are added, changed or removed while the server runs.
    """

    def __init__(
        self,
        root_dir: str,
        scan_dir: str | None = None,
        allow_handlers_outside_root_dir: bool = True,
        handler_encoding: str | None = None,
        reload: bool = HANDLER_RELOAD_DEFAULT,
        builtin_suites: Mapping[str, HandlerSuite] | None = None,
    ) -> None:
        """``builtin_suites``: resources the server serves itself (the client-conformance
        suite), each used only where no handler file has the same resource."""
        self._logger = _log
        self._builtins = dict(builtin_suites or {})
        self._shadowed: set[str] = set()
        root = os.path.realpath(root_dir)
        self._source_warnings: list[str] = []
        self._aliases: dict[str, str] = {}
        if not os.path.isdir(root):
            raise DispatchException(f"handler root {root_dir!r} is not a directory")
        scan = os.path.realpath(scan_dir) if scan_dir else root
        if not is_within(scan, root):
            raise DispatchException(f"scan dir {scan_dir!r} must be under the handler root {root_dir!r}")
        self._table = HandlerTable(root, scan, allow_handlers_outside_root_dir, handler_encoding, reload, self._warn)
        _log.info("loaded %d handler(s) from %s", len(self._table.resources()), scan)

    def _warn(self, message: str) -> None:
        self._source_warnings.append(message)
        del self._source_warnings[:-100]
        _log.warning("%s", message)

    def add_resource_path_alias(self, alias_resource_path: str, existing_resource_path: str) -> None:
        if self._table.lookup(existing_resource_path) is None:
            raise DispatchException(f"no handler for {existing_resource_path!r} to alias as {alias_resource_path!r}")
        self._aliases[alias_resource_path] = existing_resource_path

    def source_warnings(self) -> list[str]:
        return list(self._source_warnings)

    def resources(self) -> list[str]:
        """The handler files' resources and their aliases (not the built-in ones)."""
        return sorted(set(self._table.resources()) | set(self._aliases))

    def builtin_resources(self) -> list[str]:
        return sorted(self._builtins)

    def get_handler_suite(self, resource: str) -> HandlerSuite | None:
        """The suite serving ``resource`` (a path, possibly with a query), or None."""
        path = resource.split("?", 1)[0]
        if "#" in path:
            raise DispatchException(f"fragment in resource {resource!r}", constants.HTTP_STATUS_BAD_REQUEST)
        # The table is the whitelist: a decoded path can only match a scanned file.
        path = unquote(path, errors="replace")
        suite = self._table.lookup(self._aliases.get(path, path))
        if not self._builtins:
            return suite
        builtin = self._builtins.get(path)
        if suite is None:
            return builtin
        if builtin is not None and path not in self._shadowed:
            self._shadowed.add(path)
            _log.warning("%s: the handler %s serves this resource instead of the built-in one", path, suite.path)
        return suite

    def _suite_for(self, request) -> HandlerSuite:
        """The suite a request started with: a reload never changes code under an open connection."""
        suite = getattr(request, "_handler_suite", None)
        if suite is None:
            suite = self.get_handler_suite(request.ws_resource)
            if suite is None:
                raise DispatchException(f"no handler for {request.ws_resource!r}")
            try:
                request._handler_suite = suite
            except AttributeError:
                pass
        return suite

    def do_extra_handshake(self, request) -> None:
        hook = self._suite_for(request).do_extra_handshake
        if hook is not None:
            hook(request)

    def passive_closing_handshake(self, request) -> tuple[int | None, str | None]:
        hook = self._suite_for(request).passive_closing_handshake
        if hook is None:
            return default_passive_closing_handshake(request)
        return hook(request)

    def transfer_data(self, request) -> None:
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
            finish_writes = getattr(getattr(request, "ws_stream", None), "finish_writes", None)
            if finish_writes is not None:
                finish_writes()

    def _transfer_data(self, request) -> None:
        suite = self._suite_for(request)
        try:
            suite.transfer_data(request)
        except AbortedByUserException:
            raise
        except ConnectionTerminatedException as e:
            _log.debug("%s: connection ended: %s", request.ws_resource, e)
            self._close_on_error(request, getattr(e, "close_code", None), "")
            return
        except (InvalidUTF8Exception, UnsupportedFrameException) as e:
            self._close_on_error(request, e.close_code, "")
            return
        except BadOperationException as e:
            # Expected when the server closed the session under the handler (shutdown).
            level = logging.DEBUG if request.server_terminated else logging.WARNING
            _log.log(level, "%s: bad operation in handler: %s", request.ws_resource, e)
            self._close_on_error(request, constants.STATUS_INTERNAL_ENDPOINT_ERROR, "", wait=True)
            return
        except Exception:
            if not compat.active().close_on_handler_error:
                raise  # pywebsocket3's answer: the exception ends the connection, no close frame
            _log.exception("%s: handler %s raised", request.ws_resource, suite.path)
            self._close_on_error(request, constants.STATUS_INTERNAL_ENDPOINT_ERROR, "handler error", wait=True)
            return
        if not request.server_terminated:
            try:
                request.ws_stream.close_connection()
            except ConnectionTerminatedException as e:
                _log.debug("%s: no close reply: %s", request.ws_resource, e)

    @staticmethod
    def _close_on_error(request, code: int | None, reason: str, wait: bool = False) -> None:
        """Close with ``code`` unless a close went already. ``wait``: for the client's reply
        too, as pywebsocket3 did after a handler's error (the browser sees a clean close;
        closing TCP at once could cut the close off); not after a protocol failure."""
        if code is None or request.server_terminated:
            return
        try:
            request.ws_stream.close_connection(code, reason, wait_response=wait)
        except (ConnectionTerminatedException, BadOperationException):
            pass
