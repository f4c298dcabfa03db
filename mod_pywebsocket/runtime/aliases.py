"""The ``pywebsocket3`` import name, for handlers written against pywebsocket3.

web-platform-tests' handlers import ``mod_pywebsocket`` or ``pywebsocket3``
(``from pywebsocket3 import msgutil``); both must give this package's modules.
Two mechanisms, neither of which shadows a real pywebsocket3 installed beside us:

* handler files run with an ``__import__`` that maps ``pywebsocket3[.x]`` to
  ``mod_pywebsocket[.x]`` (``handler_builtins``), so a handler always gets our
  module objects, whatever else is installed;
* a finder (``install_fallback``) serves the same mapping to other code (a
  helper module next to the handlers, wptserve, WPT's tools) only when no real
  ``pywebsocket3`` can be found. Loading a handler installs it, and so does the
  ``mod_pywebsocket-pywebsocket3.pth`` file the wheel puts in site-packages (see
  setup.py), for code that imports ``pywebsocket3`` before any handler is loaded.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import sys

# The .pth file runs this module in every interpreter: the names below are for the type
# checker only (which reads TYPE_CHECKING as true whatever its value), so that start-up
# imports neither typing nor importlib.abc (see _Loader).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from importlib.abc import Loader as _LoaderProtocol
    from types import ModuleType
    from typing import Any
else:
    _LoaderProtocol = object

ALIAS = "pywebsocket3"
PACKAGE = __name__.split(".")[0]  # "mod_pywebsocket"


def _target(name: str) -> str | None:
    if name == ALIAS or name.startswith(ALIAS + "."):
        return PACKAGE + name[len(ALIAS) :]
    return None


def _aliasing_import(
    name: str,
    globals: Mapping[str, object] | None = None,  # noqa: A002 - __import__'s own names
    locals: Mapping[str, object] | None = None,  # noqa: A002
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> ModuleType:
    target = _target(name) if level == 0 else None
    return builtins.__import__(target or name, globals, locals, fromlist, level)


def handler_builtins() -> dict[str, Any]:
    """The builtins a handler file runs with: the usual ones, with the aliasing ``__import__``."""
    namespace = dict(vars(builtins))
    namespace["__import__"] = _aliasing_import
    return namespace


# The finder and loader follow the import protocol without subclassing importlib.abc:
# the .pth file runs this module at every interpreter start, and importlib.abc pulls in
# importlib.resources, pathlib and tempfile (55 ms at start-up measured here; 1.3 ms without).


class _Loader(_LoaderProtocol):
    """Hands out the real module; the import system's bookkeeping must not rename it."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = _target(spec.name)
        if target is None:  # the finder makes specs for aliased names only
            raise ImportError(f"{spec.name} is not a name of {PACKAGE}", name=spec.name)
        module = importlib.import_module(target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec  # already executed under its real name; keep that name


class _Finder:
    """First on ``sys.meta_path`` (so submodules are not loaded twice from our folder under
    the alias), but it takes the top-level name only when no other finder has it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if _target(fullname) is None:
            return None
        if fullname == ALIAS:
            others = (f for f in sys.meta_path if f is not self and hasattr(f, "find_spec"))
            if any(f.find_spec(fullname, None) is not None for f in others):
                return None  # a real pywebsocket3 is installed: leave it alone
        else:
            parent = sys.modules.get(ALIAS)
            if parent is None or parent.__name__ != PACKAGE:
                return None
        return importlib.machinery.ModuleSpec(fullname, _Loader())


def install_fallback() -> None:
    """Let ``import pywebsocket3`` mean this package where nothing else provides it."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
