"""Which answers a client gets where pywebsocket3 and the RFCs differ: the two profiles.

``rfc`` (the default) answers as RFC 6455 and RFC 7692 say. ``pywebsocket3`` answers
as pywebsocket3 4.0.2 did, for suites whose expected results were recorded against it
(docs/migrating.md gives the table, row by row, with when to choose which). The
protection limits (message size, buffer budget, timeouts, capacity) stay in both.

One profile per process. Every entry point sets it from the settings table
(``WS_COMPAT``, ``--compat``, ``PythonOption mod_pywebsocket.compat``); a server that
embeds this package (wptserve's HTTP/2 path, web-platform-tests' HTTP/3 server) gets it
from the ``WS_COMPAT`` environment variable with no change on its side.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from ..core import constants

_log = logging.getLogger("mod_pywebsocket.compat")

ENV = "WS_COMPAT"


@dataclass(frozen=True)
class Profile:
    """What differs between the two profiles; each field names what a client sees."""

    name: str
    #: A client's close, when the handler has no passive-close hook: echo its code
    #: (RFC 6455 5.5.1) or answer 1000.
    echo_close_code: bool = True
    #: A passive-close hook that answers with a close no frame may carry (1005 echoed
    #: after an empty close, a reason over 123 bytes): the nearest sendable close (no
    #: code, or no reason), or close 1011 and a BadOperationException for the handler.
    nearest_close_for_an_unsendable_hook_answer: bool = True
    #: A handler that raises after the handshake: close 1011, or drop TCP (1006).
    close_on_handler_error: bool = True
    #: A resource whose handler file does not load: 500, or no handler at all (404, or
    #: the static file of that path).
    broken_handler_is_500: bool = True
    #: Status for an unsupported Sec-WebSocket-Version: 426, or 400.
    version_status: int = constants.HTTP_STATUS_UPGRADE_REQUIRED
    #: A plain GET (no Upgrade) to a handler's resource: 426 with ``Upgrade``, or 400.
    upgrade_required_on_plain_get: bool = True
    #: RFC 6455 framing rules (core.connection's ``pywebsocket3_rules`` when False).
    rfc_framing: bool = True
    #: permessage-deflate offers with client_no_context_takeover or
    #: client_max_window_bits=N: accepted (RFC 7692), or declined.
    all_deflate_parameters: bool = True
    #: ``request.connection.write(str)``: written as UTF-8, or TypeError.
    connection_writes_text: bool = True


RFC = Profile("rfc")
PYWEBSOCKET3 = Profile(
    "pywebsocket3",
    echo_close_code=False,
    nearest_close_for_an_unsendable_hook_answer=False,
    close_on_handler_error=False,
    broken_handler_is_500=False,
    version_status=constants.HTTP_STATUS_BAD_REQUEST,
    upgrade_required_on_plain_get=False,
    rfc_framing=False,
    all_deflate_parameters=False,
    connection_writes_text=False,
)
PROFILES = {p.name: p for p in (RFC, PYWEBSOCKET3)}
NAMES = tuple(PROFILES)

_active: Profile | None = None


def parse(value: str) -> str:
    """A profile's name (for the settings table); ValueError for anything else."""
    word = value.strip().lower()
    if word not in PROFILES:
        raise ValueError(f"must be {' or '.join(NAMES)}")
    return word


def configure(name: str | None = None) -> Profile:
    """Make ``name`` this process's profile (the servers call it at start-up); with no
    name, ``WS_COMPAT`` decides, else ``rfc``. ValueError for an unknown name."""
    global _active
    name = name or os.environ.get(ENV, "").strip() or RFC.name
    _active = PROFILES[parse(name)]
    if _active is not RFC:
        _log.info("answering as pywebsocket3 where it and the RFCs differ (%s=%s)", ENV, _active.name)
    return _active


def active() -> Profile:
    """This process's profile: as configured, else from ``WS_COMPAT``, else ``rfc``."""
    profile = _active
    if profile is None:
        try:
            profile = configure()
        except ValueError:
            _log.warning("%s=%r is not a profile (%s); using rfc", ENV, os.environ.get(ENV), ", ".join(NAMES))
            profile = configure(RFC.name)
    return profile


def connection_bytes(data: bytes | bytearray | str) -> bytes | bytearray:
    """What ``request.connection.write(data)`` sends: a ``str`` as UTF-8, or under
    pywebsocket3's profile the TypeError its socket raised."""
    if isinstance(data, str):
        if not active().connection_writes_text:
            raise TypeError("request.connection.write() takes bytes, not str (WS_COMPAT=pywebsocket3)")
        return data.encode("utf-8")
    return data
