"""The mod_python entry point: ``PythonHeaderParserHandler mod_pywebsocket.headerparserhandler``.

The adapter itself is ``adapters.apache.handler``; its docstring lists the
``PythonOption``s. This module keeps the name Apache's configuration imports.
"""

from __future__ import annotations

from .adapters.apache.handler import ApacheConnection, headerparserhandler

__all__ = ["ApacheConnection", "headerparserhandler"]
