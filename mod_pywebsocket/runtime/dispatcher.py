"""Map resources to handler suites, and run their hooks for pywebsocket3's calls.

``handler_files`` finds, loads and reloads the files, and ``suite_hooks`` runs a suite's
hooks with pywebsocket's contract; this module answers which suite serves a request.
pywebsocket3's ``do_extra_handshake(request)``, ``passive_closing_handshake(request)``
and ``transfer_data(request)`` (what embedders call) find the request's suite here; the
flow looks the suite up once and passes it on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from urllib.parse import unquote

from ..core import constants
from ..core.errors import DispatchException
from . import legacy_attributes, settings
from .handler_files import HANDLER_SUFFIX, HandlerSuite, HandlerTable, is_within, load_handler_file
from .interfaces import Request
from .suite_hooks import SuiteHooks

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

    def _suite_for(self, request: Request) -> HandlerSuite:
        """The suite of a request served through pywebsocket3's calls (an embedder's), which
        have only the request: looked up once and kept on it, so a reload never changes
        the code under an open connection."""
        suite = legacy_attributes.pinned_handler_suite(request)
        if suite is None:
            suite = self.get_handler_suite(request.ws_resource)
            if suite is None:
                raise DispatchException(f"no handler for {request.ws_resource!r}")
            legacy_attributes.pin_handler_suite(request, suite)
        return suite

    # pywebsocket3's calls, which find the request's suite; the flow hands SuiteHooks its own.

    def do_extra_handshake(self, request: Request) -> None:
        SuiteHooks(self._suite_for(request)).do_extra_handshake(request)

    def passive_closing_handshake(self, request: Request) -> tuple[int | None, str | None]:
        return SuiteHooks(self._suite_for(request)).passive_closing_handshake(request)

    def transfer_data(self, request: Request) -> None:
        """Run the handler's transfer_data, then finish the closing handshake (``SuiteHooks.transfer_data``)."""
        SuiteHooks(self._suite_for(request)).transfer_data(request)
