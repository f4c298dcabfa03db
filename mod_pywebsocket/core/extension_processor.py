"""Extension processors and their negotiation, as pywebsocket handlers see and extend them.

Each extension a client offers that the server implements becomes a processor in
``request.ws_extension_processors``; the handler's ``web_socket_do_extra_handshake``
may reorder, drop or configure them, or put in a processor of its own (a subclass of
``ExtensionProcessorInterface``). ``negotiate`` then picks, as pywebsocket3 did: every
active processor checks itself against the others (last first), the first one whose
``get_extension_response()`` answers is accepted and every later one is deactivated.
permessage-deflate (``deflate.PerMessageDeflateExtensionProcessor``) is this package's
one processor; a processor of a handler's own may install pywebsocket's frame and
message filters through ``setup_stream_options``.
"""

from __future__ import annotations

import logging
from typing import Any

from . import headers

_log = logging.getLogger("mod_pywebsocket.extensions")


class ExtensionProcessorInterface:
    """An offered extension: accept it (``get_extension_response``) and set the stream up.

    Subclasses fill ``name()``, ``_get_extension_response_internal()`` (the response's
    ``ExtensionParameter``, or None to decline) and, to change the stream,
    ``_setup_stream_options_internal(stream_options)``.
    """

    def __init__(self, request: headers.ExtensionParameter) -> None:
        self._logger = logging.getLogger(f"{type(self).__module__}.{type(self).__name__}")
        self._request = request
        self._active = True

    def request(self) -> headers.ExtensionParameter:
        """The offer, as the client sent it."""
        return self._request

    def name(self) -> str | None:
        return None

    def check_consistency_with_other_processors(self, processors: list[Any]) -> None:
        """Deactivate this processor if it cannot work beside ``processors``."""

    def set_active(self, active: bool) -> None:
        self._active = active

    def is_active(self) -> bool:
        return self._active

    def _get_extension_response_internal(self) -> headers.ExtensionParameter | None:
        return None

    def get_extension_response(self) -> headers.ExtensionParameter | None:
        """The accepted parameters, or None: inactive, or declined (which deactivates it)."""
        if not self._active:
            self._logger.debug("extension %s is not active", self.name())
            return None
        response = self._get_extension_response_internal()
        if response is None:
            self._active = False
        return response

    def _setup_stream_options_internal(self, stream_options: Any) -> None:
        pass

    def setup_stream_options(self, stream_options: Any) -> None:
        if self._active:
            self._setup_stream_options_internal(stream_options)


def negotiate(processors: list[Any]) -> tuple[list[headers.ExtensionParameter] | None, Any]:
    """``(responses, accepted processor)`` for ``request.ws_extension_processors``: at most
    one extension is accepted, the first active one that answers; ``(None, None)`` if none."""
    candidates = [p for p in processors if p is not None]
    for processor in reversed(candidates):
        if processor.is_active():
            processor.check_consistency_with_other_processors(candidates)
    candidates = [p for p in candidates if p.is_active()]
    for index, processor in enumerate(candidates):
        if not processor.is_active():
            continue
        response = processor.get_extension_response()
        if response is None:
            continue
        for later in candidates[index + 1 :]:
            later.set_active(False)
        return [response], processor
    return None, None
