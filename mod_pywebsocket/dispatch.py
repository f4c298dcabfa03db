"""pywebsocket's ``dispatch``: ``Dispatcher`` maps resources to handler suites and runs them.

The dispatcher is ``runtime.dispatcher``'s (the handler files are found, loaded and
reloaded by ``runtime.handler_files``); wptserve calls ``Dispatcher(root, None,
False)``, ``get_handler_suite`` and ``transfer_data`` by these names. pywebsocket3's
private helpers are here too, with its behaviour: ``_source_handler_file`` runs
handler source text, ``_enumerate_handler_file_paths`` and
``_create_path_to_resource_converter`` find handler files and their resources.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

from . import common, handshake, msgutil, stream, util  # noqa: F401 - pywebsocket3's dispatch names them
from .runtime.aliases import handler_builtins
from .runtime.blocking_stream import default_passive_closing_handshake
from .runtime.dispatcher import HANDLER_SUFFIX, DispatchException, HandlerSuite, load_handler_file
from .runtime.dispatcher import Dispatcher as _RuntimeDispatcher
from .runtime.handler_files import HandlerTable

__all__ = ["DispatchException", "Dispatcher", "HandlerSuite", "HANDLER_SUFFIX", "load_handler_file"]

_SOURCE_PATH_PATTERN = re.compile(r"(?i)_wsh\.py$")
_SOURCE_SUFFIX = HANDLER_SUFFIX
_DO_EXTRA_HANDSHAKE_HANDLER_NAME = "web_socket_do_extra_handshake"
_TRANSFER_DATA_HANDLER_NAME = "web_socket_transfer_data"
_PASSIVE_CLOSING_HANDSHAKE_HANDLER_NAME = "web_socket_passive_closing_handshake"

# The (code, reason) a client's close is answered with when the handler has no
# web_socket_passive_closing_handshake (its code echoed: docs/migrating.md).
_default_passive_closing_handshake_handler = default_passive_closing_handshake

# pywebsocket3's name for a handler suite: _HandlerSuite(do_extra_handshake,
# transfer_data, passive_closing_handshake), with those three attributes.
_HandlerSuite = HandlerSuite


class Dispatcher(_RuntimeDispatcher):
    """``runtime.dispatcher.Dispatcher`` with pywebsocket3's ``_source_handler_files_in_dir``."""

    def _source_handler_files_in_dir(
        self, root_dir: str, scan_dir: str | None, allow_handlers_outside_root_dir: bool, handler_encoding: str | None
    ) -> None:
        """Load the handler files under ``scan_dir`` (resources relative to ``root_dir``),
        as the constructor did; they replace the handlers loaded before, and the load
        errors are added to ``source_warnings()``."""
        root = os.path.realpath(root_dir)
        scan = os.path.realpath(scan_dir) if scan_dir else root
        self._table = HandlerTable(
            root, scan, allow_handlers_outside_root_dir, handler_encoding, self._table.reload, self._warn
        )


def _normalize_path(path: str) -> str:
    """``path`` made absolute, symbolic links resolved, with ``/`` separators (``\\`` accepted)."""
    return os.path.realpath(path.replace("\\", os.path.sep)).replace("\\", "/")


def _create_path_to_resource_converter(base_dir: str) -> Callable[[str], str | None]:
    """A function from a handler file's path under ``base_dir`` to its resource
    (``<base_dir>/a/b_wsh.py`` -> ``/a/b``); it gives None for other paths.

    The paths given to it are compared as they are (``/`` separators), not resolved.
    """
    base = _normalize_path(base_dir)

    def converter(path: str) -> str | None:
        path = path.replace("\\", "/")
        if not path.endswith(_SOURCE_SUFFIX) or not path.startswith(base):
            return None
        return path[len(base) : -len(_SOURCE_SUFFIX)]

    return converter


def _enumerate_handler_file_paths(directory: str) -> Iterator[str]:
    """The paths of the handler files (``*_wsh.py``, any case) under ``directory``, its
    subfolders included."""
    for folder, _, filenames in os.walk(directory):
        for filename in filenames:
            path = os.path.join(folder, filename)
            if _SOURCE_PATH_PATTERN.search(path):
                yield path


def _extract_handler(dic: dict, name: str) -> Callable:
    """The function ``name`` of a handler's namespace; DispatchException if it is missing
    or not callable."""
    if name not in dic:
        raise DispatchException(f"{name} is not defined.")
    handler = dic[name]
    if not callable(handler):
        raise DispatchException(f"{name} is not callable.")
    return handler


def _source_handler_file(handler_definition: str) -> HandlerSuite:
    """Run a handler file's source text and return its suite, as pywebsocket3 loaded them:
    ``web_socket_do_extra_handshake`` and ``web_socket_transfer_data`` are required,
    the passive-close hook defaults to ``_default_passive_closing_handshake_handler``.

    The source runs with the ``__import__`` handler files get (``pywebsocket3`` means
    this package); an exception in it is a DispatchException with its traceback.
    """
    namespace: dict = {"__builtins__": handler_builtins()}
    try:
        exec(handler_definition, namespace)
    except Exception as e:
        raise DispatchException("Error in sourcing handler:" + util.get_stack_trace()) from e
    passive = namespace.get(_PASSIVE_CLOSING_HANDSHAKE_HANDLER_NAME)
    return _HandlerSuite(
        _extract_handler(namespace, _DO_EXTRA_HANDSHAKE_HANDLER_NAME),
        _extract_handler(namespace, _TRANSFER_DATA_HANDLER_NAME),
        passive if callable(passive) else _default_passive_closing_handshake_handler,
    )
