"""Handler files: finding them, loading them, and (optionally) reloading them when they change.

Resource ``/a/b`` is served by ``<root>/a/b_wsh.py``. Only files found by
walking the scan directory are ever loaded, so a request path is looked up in a
table and never joined onto the file system: ``..``, encoded dots or odd
separators can only miss. A handler whose real path leaves the root (a
symlink) is skipped unless outside handlers are allowed.

With ``reload``, each lookup compares the file's stat with the one it was
loaded from (one ``stat()`` per handshake) and loads it again when it changed;
a miss rescans the folder (at most once a second) to find new files. A file
that fails to load answers 500 until it is fixed: the previous version is
never used silently. Connections keep the suite they started with.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core import constants
from ..core.errors import DispatchException
from .aliases import handler_builtins, install_fallback

if TYPE_CHECKING:
    from .interfaces import PassiveClosingHook, Request

install_fallback()

_log = logging.getLogger("mod_pywebsocket.dispatch")

HANDLER_SUFFIX = "_wsh.py"
_DO_EXTRA_HANDSHAKE = "web_socket_do_extra_handshake"
_TRANSFER_DATA = "web_socket_transfer_data"
_PASSIVE_CLOSING_HANDSHAKE = "web_socket_passive_closing_handshake"
RESCAN_INTERVAL = 1.0  # seconds between rescans for new files, however many misses


@dataclass(frozen=True)
class HandlerSuite:
    """A handler file's three functions (the first and last optional)."""

    do_extra_handshake: Callable[[Request], object] | None
    transfer_data: Callable[[Request], object]
    passive_closing_handshake: PassiveClosingHook | None
    path: str = ""


def is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def load_handler_file(path: str, encoding: str | None = None) -> HandlerSuite:
    """Execute one handler file in a fresh namespace.

    Raises DispatchException: 500 when the file does not load (syntax error,
    exception at import), 404 when it defines no transfer_data (not a handler).
    """
    try:
        with open(path, encoding=encoding or "utf-8") as f:
            source = f.read()
        code = compile(source, path, "exec")
        namespace: dict[str, Any] = {
            "__name__": "_wsh_" + os.path.basename(path)[: -len(".py")],
            "__file__": path,
            "__builtins__": handler_builtins(),  # `import pywebsocket3` gives this package
        }
        exec(code, namespace)
    except Exception as e:
        raise DispatchException(
            f"{path}: failed to load: {type(e).__name__}: {e}", constants.HTTP_STATUS_INTERNAL_SERVER_ERROR
        ) from e
    transfer = namespace.get(_TRANSFER_DATA)
    if not callable(transfer):
        raise DispatchException(f"{path}: no {_TRANSFER_DATA}(request) function")
    extra = namespace.get(_DO_EXTRA_HANDSHAKE)
    passive = namespace.get(_PASSIVE_CLOSING_HANDSHAKE)
    for name, fn in ((_DO_EXTRA_HANDSHAKE, extra), (_PASSIVE_CLOSING_HANDSHAKE, passive)):
        if fn is not None and not callable(fn):
            raise DispatchException(f"{path}: {name} is not a function", constants.HTTP_STATUS_INTERNAL_SERVER_ERROR)
    return HandlerSuite(extra, transfer, passive, path)


_Signature = tuple[int, int, int]  # a file's mtime, size and inode, to see it change


def _signature(path: str) -> _Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


@dataclass
class _Entry:
    path: str
    signature: _Signature | None
    suite: HandlerSuite | None = None
    error: DispatchException | None = None


class HandlerTable:
    """The resources of one handler root, each with its loaded suite or its load error."""

    def __init__(
        self,
        root_dir: str,
        scan_dir: str,
        allow_outside: bool,
        encoding: str | None,
        reload: bool,
        warn: Callable[[str], None],
    ) -> None:
        self.root_dir = root_dir
        self.scan_dir = scan_dir
        self.reload = reload
        self._allow_outside = allow_outside
        self._encoding = encoding
        self._warn = warn
        self._entries: dict[str, _Entry] = {}
        self._skipped: dict[str, _Signature | None] = {}  # unusable files already reported, with their stat
        self._lock = threading.Lock()
        self._last_scan = 0.0
        self.scan(initial=True)

    def scan(self, initial: bool = False) -> None:
        """Walk the scan directory and load the files not in the table yet."""
        self._last_scan = time.monotonic()
        for dirpath, dirnames, filenames in os.walk(self.scan_dir):
            # Hidden folders are not resources: Kubernetes keeps a ConfigMap's files in a
            # timestamped "..2026_..." folder beside the symlinks that name them.
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if not filename.endswith(HANDLER_SUFFIX):
                    continue
                path = os.path.join(dirpath, filename)
                resource = "/" + os.path.relpath(path, self.root_dir)[: -len(HANDLER_SUFFIX)].replace(os.sep, "/")
                if resource in self._entries:
                    continue
                signature = _signature(path)
                if path in self._skipped and self._skipped[path] == signature:
                    continue
                if not self._allow_outside and not is_within(os.path.realpath(path), self.root_dir):
                    self._skipped[path] = signature
                    self._warn(f"{path}: skipped, its real path is outside the handler root")
                    continue
                entry = self._load(_Entry(path, signature))
                if entry is None:
                    continue
                self._entries[resource] = entry
                if not initial:
                    _log.warning("%s: new handler for %s", path, resource)

    def _load(self, entry: _Entry) -> _Entry | None:
        """Load ``entry``'s file; None if it is not a handler (no transfer_data)."""
        try:
            entry.suite, entry.error = load_handler_file(entry.path, self._encoding), None
        except DispatchException as e:
            if e.status == constants.HTTP_STATUS_NOT_FOUND:
                self._skipped[entry.path] = entry.signature
                self._warn(str(e))
                return None
            entry.suite, entry.error = None, e
            self._warn(str(e))
        return entry

    def resources(self) -> list[str]:
        return sorted(r for r, e in self._entries.items() if e.suite is not None)

    def lookup(self, resource: str) -> HandlerSuite | None:
        """The suite for a decoded resource path; raises the load error of a broken file (500)."""
        entry = self._entries.get(resource)
        if self.reload:
            if entry is None:
                if time.monotonic() - self._last_scan < RESCAN_INTERVAL:
                    return None
                with self._lock:
                    self.scan()
                entry = self._entries.get(resource)
            else:
                signature = _signature(entry.path)
                if signature != entry.signature:
                    entry = self._refresh(resource, entry, signature)
        if entry is None:
            return None
        if entry.error is not None:
            raise entry.error
        return entry.suite

    def _refresh(self, resource: str, entry: _Entry, signature: _Signature | None) -> _Entry | None:
        with self._lock:
            current = self._entries.get(resource)
            if current is not entry:  # another thread got here first
                return current
            if signature is None:
                del self._entries[resource]
                _log.warning("%s: removed; %s is no longer served", entry.path, resource)
                return None
            fresh = self._load(_Entry(entry.path, signature))
            if fresh is None:
                del self._entries[resource]
                return None
            self._entries[resource] = fresh
            if fresh.error is None:
                _log.warning("%s: reloaded", entry.path)
            return fresh
