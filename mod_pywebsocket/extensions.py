"""pywebsocket's ``extensions``: permessage-deflate (RFC 7692), in ``core.deflate``.

Handlers see one ``PerMessageDeflateExtensionProcessor`` per offer in
``request.ws_extension_processors``.
"""

from __future__ import annotations

from .core.deflate import (
    PerMessageDeflate,
    PerMessageDeflateExtensionProcessor,
    get_extension_processor,
    negotiate,
)

__all__ = ["PerMessageDeflate", "PerMessageDeflateExtensionProcessor", "get_extension_processor", "negotiate"]
