"""pywebsocket's ``dispatch``: ``Dispatcher`` maps resources to handler suites and runs them.

The code is ``runtime.dispatcher``; wptserve calls ``Dispatcher(root, None, False)``,
``get_handler_suite`` and ``transfer_data`` by these names.
"""

from __future__ import annotations

from .runtime.dispatcher import HANDLER_SUFFIX, Dispatcher, DispatchException, HandlerSuite, load_handler_file

__all__ = ["DispatchException", "Dispatcher", "HandlerSuite", "HANDLER_SUFFIX", "load_handler_file"]
