"""permessage-deflate (RFC 7692): offer negotiation and the per-message codec.

``PerMessageDeflateExtensionProcessor`` keeps the names pywebsocket handlers
call (``set_client_max_window_bits``, ``disable_outgoing_compression``, ...);
``get_extension_response()`` validates its offer and returns the accepted
parameters, or None to decline it. ``PerMessageDeflate`` is the sans-I/O codec
the stream uses: whole or fragmented messages in, deflate blocks out, and
bounded inflation so a small compressed frame cannot expand past the limit.
"""

from __future__ import annotations

import logging
import re
import zlib

from . import constants, headers
from .errors import ProtocolError

_log = logging.getLogger("mod_pywebsocket.extensions")

_TAIL = b"\x00\x00\xff\xff"
_WINDOW_BITS_RE = re.compile(r"(?:8|9|1[0-5])")
_FLAG_PARAMS = ("server_no_context_takeover", "client_no_context_takeover")
_KNOWN_PARAMS = frozenset(_FLAG_PARAMS + ("server_max_window_bits", "client_max_window_bits"))


class PerMessageDeflate:
    """One connection's compressor and decompressor, per the negotiated parameters.

    zlib cannot deflate with an 8-bit window, so offers asking the server for one
    are declined during negotiation; inflation always uses a 15-bit window, which
    decodes whatever window the peer used.
    """

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int = 15,
        compress_level: int = 6,
    ) -> None:
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = max(server_max_window_bits, 9)
        self.compress_level = compress_level
        self.compress_outgoing = True
        self._compressor = self._new_compressor()
        self._decompressor = zlib.decompressobj(-15)
        self._sending = False

    def _new_compressor(self) -> zlib._Compress:
        return zlib.compressobj(self.compress_level, zlib.DEFLATED, -self.server_max_window_bits)

    def compress(self, data: bytes, final: bool = True) -> bytes:
        """Deflate one message, or one fragment of it (``final=False``)."""
        out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        if not final:
            self._sending = True
            return out
        self._sending = False
        if out.endswith(_TAIL):
            out = out[:-4]
        if not out:
            out = b"\x00"  # an empty message: one empty stored block, final bit clear
        if self.server_no_context_takeover:
            self._compressor = self._new_compressor()
        return out

    def decompress(self, data: bytes, final: bool, limit: int | None) -> bytes:
        """Inflate the next fragment of a compressed message, producing at most ``limit`` bytes."""
        if final:
            data = data + _TAIL
        try:
            if limit is None:
                out = self._decompressor.decompress(data)
            else:
                out = self._decompressor.decompress(data, limit + 1)
                if len(out) > limit or self._decompressor.unconsumed_tail:
                    raise ProtocolError(constants.STATUS_MESSAGE_TOO_BIG, "decompressed message exceeds the limit")
        except zlib.error as e:
            raise ProtocolError(constants.STATUS_INVALID_FRAME_PAYLOAD_DATA, f"bad compressed data: {e}") from None
        if final and self.client_no_context_takeover:
            self._decompressor = zlib.decompressobj(-15)
        return out


def _parse_offer(offer: headers.ExtensionParameter) -> dict[str, str | None] | None:
    """The offer's parameters as a dict, or None if the offer is not valid per RFC 7692."""
    params: dict[str, str | None] = {}
    for name, value in offer.get_parameters():
        if name not in _KNOWN_PARAMS or name in params:
            return None
        if name in _FLAG_PARAMS and value is not None:
            return None
        if name == "server_max_window_bits" and (value is None or not _WINDOW_BITS_RE.fullmatch(value)):
            return None
        if name == "client_max_window_bits" and value is not None and not _WINDOW_BITS_RE.fullmatch(value):
            return None
        params[name] = value
    return params


class PerMessageDeflateExtensionProcessor:
    """A permessage-deflate offer, as handlers see it in ``request.ws_extension_processors``."""

    def __init__(self, request: headers.ExtensionParameter) -> None:
        self._request = request
        self._active = True
        self._client_max_window_bits: int | None = None
        self._client_no_context_takeover = False
        self._compress_outgoing = True
        self._codec: PerMessageDeflate | None = None

    def name(self) -> str:
        return constants.PERMESSAGE_DEFLATE_EXTENSION

    def request(self) -> headers.ExtensionParameter:
        return self._request

    def is_active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        self._active = active

    def set_client_max_window_bits(self, value: int) -> None:
        if not 8 <= value <= 15:
            raise ValueError("client_max_window_bits must be between 8 and 15")
        self._client_max_window_bits = value

    def set_client_no_context_takeover(self, value: bool) -> None:
        self._client_no_context_takeover = value

    def set_bfinal(self, value: bool) -> None:
        """Accepted for compatibility; messages always end with a sync-flushed block."""

    def enable_outgoing_compression(self) -> None:
        self._compress_outgoing = True
        if self._codec is not None:
            self._codec.compress_outgoing = True

    def disable_outgoing_compression(self) -> None:
        self._compress_outgoing = False
        if self._codec is not None:
            self._codec.compress_outgoing = False

    def check_consistency_with_other_processors(self, processors: list[object]) -> None:
        """Kept for old callers: negotiation already accepts only one compression offer."""

    def get_extension_response(self) -> headers.ExtensionParameter | None:
        """Accept the offer (returning the response parameters) or decline it (None)."""
        if not self._active:
            return None
        params = _parse_offer(self._request)
        if params is None:
            _log.debug("declining invalid permessage-deflate offer %s", headers.format_extension(self._request))
            return None
        server_bits = params.get("server_max_window_bits")
        if server_bits == "8":
            _log.debug("declining server_max_window_bits=8: zlib cannot deflate with a 256-byte window")
            return None
        client_bits = self._client_max_window_bits
        if client_bits is not None and "client_max_window_bits" not in params:
            return None  # the client cannot limit its window: it did not offer to
        response = headers.ExtensionParameter(constants.PERMESSAGE_DEFLATE_EXTENSION)
        server_no_context = "server_no_context_takeover" in params
        client_no_context = "client_no_context_takeover" in params or self._client_no_context_takeover
        if server_no_context:
            response.add_parameter("server_no_context_takeover", None)
        if client_no_context:
            response.add_parameter("client_no_context_takeover", None)
        if server_bits is not None:
            response.add_parameter("server_max_window_bits", server_bits)
        if client_bits is not None:
            offered = params["client_max_window_bits"]
            client_bits = min(client_bits, int(offered)) if offered else client_bits
            response.add_parameter("client_max_window_bits", str(client_bits))
        self._codec = PerMessageDeflate(
            server_no_context_takeover=server_no_context,
            client_no_context_takeover=client_no_context,
            server_max_window_bits=int(server_bits) if server_bits else 15,
        )
        self._codec.compress_outgoing = self._compress_outgoing
        return response

    def codec(self) -> PerMessageDeflate | None:
        """The codec for the stream, once ``get_extension_response()`` accepted the offer."""
        return self._codec


def get_extension_processor(
    extension_request: headers.ExtensionParameter,
) -> PerMessageDeflateExtensionProcessor | None:
    """A processor for an offered extension this server implements, or None."""
    if extension_request.name() == constants.PERMESSAGE_DEFLATE_EXTENSION:
        return PerMessageDeflateExtensionProcessor(extension_request)
    return None


def negotiate(
    processors: list[PerMessageDeflateExtensionProcessor],
) -> tuple[list[headers.ExtensionParameter] | None, PerMessageDeflate | None]:
    """Accept the first acceptable offer among the handler-approved processors."""
    for processor in processors:
        if processor is None or not processor.is_active():
            continue
        response = processor.get_extension_response()
        if response is not None:
            return [response], processor.codec()
    return None, None
