"""Find handler files, load them, and run their hooks with pywebsocket's contract.

Resource ``/a/b`` is served by ``<root>/a/b_wsh.py``. Only files found by
walking ``scan_dir`` (default: the root) are ever loaded, so a request path is
looked up in a table and never joined onto the file system: ``..``, encoded
dots or odd separators can only miss. A handler whose real path leaves the root
(a symlink) is skipped unless ``allow_handlers_outside_root_dir`` is set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from . import common
from .errors import (
    AbortedByUserException,
    BadOperationException,
    ConnectionTerminatedException,
    DispatchException,
    InvalidUTF8Exception,
    UnsupportedFrameException,
)
from .stream import default_passive_closing_handshake

__all__ = ["DispatchException", "Dispatcher", "HandlerSuite"]

_log = logging.getLogger("mod_pywebsocket.dispatch")

HANDLER_SUFFIX = "_wsh.py"
_DO_EXTRA_HANDSHAKE = "web_socket_do_extra_handshake"
_TRANSFER_DATA = "web_socket_transfer_data"
_PASSIVE_CLOSING_HANDSHAKE = "web_socket_passive_closing_handshake"


@dataclass(frozen=True)
class HandlerSuite:
    do_extra_handshake: Callable | None
    transfer_data: Callable
    passive_closing_handshake: Callable | None
    path: str = ""


def _is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def load_handler_file(path: str, encoding: str | None = None) -> HandlerSuite:
    """Execute one handler file in a fresh namespace; raise DispatchException if unusable."""
    try:
        with open(path, encoding=encoding or "utf-8") as f:
            source = f.read()
        code = compile(source, path, "exec")
        namespace: dict = {"__name__": "_wsh_" + os.path.basename(path)[: -len(".py")], "__file__": path}
        exec(code, namespace)
    except Exception as e:
        raise DispatchException(f"{path}: failed to load: {type(e).__name__}: {e}") from e
    transfer = namespace.get(_TRANSFER_DATA)
    if not callable(transfer):
        raise DispatchException(f"{path}: no {_TRANSFER_DATA}(request) function")
    extra = namespace.get(_DO_EXTRA_HANDSHAKE)
    passive = namespace.get(_PASSIVE_CLOSING_HANDSHAKE)
    for name, fn in ((_DO_EXTRA_HANDSHAKE, extra), (_PASSIVE_CLOSING_HANDSHAKE, passive)):
        if fn is not None and not callable(fn):
            raise DispatchException(f"{path}: {name} is not a function")
    return HandlerSuite(extra, transfer, passive, path)


class Dispatcher:
    """Maps resources to handler suites and runs the handlers' hooks."""

    def __init__(
        self,
        root_dir: str,
        scan_dir: str | None = None,
        allow_handlers_outside_root_dir: bool = True,
        handler_encoding: str | None = None,
    ) -> None:
        self._logger = _log
        self._root_dir = os.path.realpath(root_dir)
        self._allow_outside = allow_handlers_outside_root_dir
        self._encoding = handler_encoding
        self._handler_suite_map: dict[str, HandlerSuite] = {}
        self._source_warnings: list[str] = []
        if not os.path.isdir(self._root_dir):
            raise DispatchException(f"handler root {root_dir!r} is not a directory")
        scan = os.path.realpath(scan_dir) if scan_dir else self._root_dir
        if not _is_within(scan, self._root_dir):
            raise DispatchException(f"scan dir {scan_dir!r} must be under the handler root {root_dir!r}")
        self._source_handler_files_in_dir(scan)

    def _source_handler_files_in_dir(self, scan_dir: str) -> None:
        for dirpath, dirnames, filenames in os.walk(scan_dir):
            dirnames.sort()
            for filename in sorted(filenames):
                if not filename.endswith(HANDLER_SUFFIX):
                    continue
                path = os.path.join(dirpath, filename)
                if not self._allow_outside and not _is_within(os.path.realpath(path), self._root_dir):
                    self._warn(f"{path}: skipped, its real path is outside the handler root")
                    continue
                resource = "/" + os.path.relpath(path, self._root_dir)[: -len(HANDLER_SUFFIX)].replace(os.sep, "/")
                try:
                    self._handler_suite_map[resource] = load_handler_file(path, self._encoding)
                except DispatchException as e:
                    self._warn(str(e))
        _log.info("loaded %d handler(s) from %s", len(self._handler_suite_map), scan_dir)

    def _warn(self, message: str) -> None:
        self._source_warnings.append(message)
        _log.warning("%s", message)

    def add_resource_path_alias(self, alias_resource_path: str, existing_resource_path: str) -> None:
        suite = self._handler_suite_map.get(existing_resource_path)
        if suite is None:
            raise DispatchException(f"no handler for {existing_resource_path!r} to alias as {alias_resource_path!r}")
        self._handler_suite_map[alias_resource_path] = suite

    def source_warnings(self) -> list[str]:
        return list(self._source_warnings)

    def resources(self) -> list[str]:
        return sorted(self._handler_suite_map)

    def get_handler_suite(self, resource: str) -> HandlerSuite | None:
        """The suite serving ``resource`` (a path, possibly with a query), or None."""
        path = resource.split("?", 1)[0]
        if "#" in path:
            raise DispatchException(f"fragment in resource {resource!r}", common.HTTP_STATUS_BAD_REQUEST)
        # The table is the whitelist: a decoded path can only match a scanned file.
        return self._handler_suite_map.get(unquote(path, errors="replace"))

    def _suite_for(self, request) -> HandlerSuite:
        suite = self.get_handler_suite(request.ws_resource)
        if suite is None:
            raise DispatchException(f"no handler for {request.ws_resource!r}")
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
        1003 unsupported, 1007 bad UTF-8, 1011 for anything the handler raised.
        ``AbortedByUserException`` propagates so the adapter drops the connection.
        """
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
            self._close_on_error(request, common.STATUS_INTERNAL_ENDPOINT_ERROR, "")
            return
        except Exception:
            _log.exception("%s: handler %s raised", request.ws_resource, suite.path)
            self._close_on_error(request, common.STATUS_INTERNAL_ENDPOINT_ERROR, "handler error")
            return
        if not request.server_terminated:
            try:
                request.ws_stream.close_connection()
            except ConnectionTerminatedException as e:
                _log.debug("%s: no close reply: %s", request.ws_resource, e)

    @staticmethod
    def _close_on_error(request, code: int | None, reason: str) -> None:
        if code is None or request.server_terminated:
            return
        try:
            request.ws_stream.close_connection(code, reason, wait_response=False)
        except (ConnectionTerminatedException, BadOperationException):
            pass
