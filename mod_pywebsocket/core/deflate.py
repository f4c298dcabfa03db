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
from collections.abc import Callable

from . import constants, headers
from .errors import ProtocolError
from .extension_processor import ExtensionProcessorInterface

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
        self.bfinal = False  # end each message with a final block (pywebsocket's set_bfinal)
        self._compressor = self._new_compressor()
        self._decompressor = zlib.decompressobj(-15)
        self._sending = False

    def _new_compressor(self) -> zlib._Compress:
        return zlib.compressobj(self.compress_level, zlib.DEFLATED, -self.server_max_window_bits)

    def compress(self, data: bytes, final: bool = True) -> bytes:
        """Deflate one message, or one fragment of it (``final=False``)."""
        if final and self.bfinal:
            return self._compress_final_block(data)
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

    def _compress_final_block(self, data: bytes) -> bytes:
        """The message's last deflate block has BFINAL set (``Z_FINISH``); an empty stored
        block follows, which the receiver's appended tail completes (RFC 7692 7.2.3.4).
        The next message starts a new context: nothing may follow a final block."""
        out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_FINISH) + b"\x00"
        self._sending = False
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

    def inflate_ahead(self) -> Callable[[bytes, int | None], bytes | None]:
        """A throwaway copy of the inflater, to see what the part of a frame that has arrived
        inflates to before the frame ends (``MessageAssembler.check_partial_text``). It
        gives at most ``limit`` bytes per call and None once more would come (too much to
        check ahead: the frame's end tells); bad compressed data is 1007, as at the end."""
        decompressor = self._decompressor.copy()

        def inflate(data: bytes, limit: int | None) -> bytes | None:
            try:
                out = decompressor.decompress(data, 0 if limit is None else limit + 1)
            except zlib.error as e:
                raise ProtocolError(constants.STATUS_INVALID_FRAME_PAYLOAD_DATA, f"bad compressed data: {e}") from None
            if decompressor.unconsumed_tail or (limit is not None and len(out) > limit):
                return None
            return out

        return inflate


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


#: The processor class of each extension this server implements, by name (pywebsocket's
#: registry; ``get_extension_processor`` reads it).
_available_processors: dict[str, type[ExtensionProcessorInterface]] = {}


def _parse_window_bits(bits: str | None) -> int:
    """A window-bits parameter's value, 8 to 15 written plainly; ValueError otherwise."""
    if bits is None or not _WINDOW_BITS_RE.fullmatch(bits):
        raise ValueError(f"invalid window bits: {bits!r}")
    return int(bits)


class PerMessageDeflateExtensionProcessor(ExtensionProcessorInterface):
    """A permessage-deflate offer, as handlers see it in ``request.ws_extension_processors``.

    ``rfc_parameters=False`` (pywebsocket3's profile) declines offers that carry
    ``client_no_context_takeover`` or a value for ``client_max_window_bits``, as
    pywebsocket3 did; by default every RFC 7692 parameter is taken.
    """

    _SERVER_MAX_WINDOW_BITS_PARAM = "server_max_window_bits"
    _SERVER_NO_CONTEXT_TAKEOVER_PARAM = "server_no_context_takeover"
    _CLIENT_MAX_WINDOW_BITS_PARAM = "client_max_window_bits"
    _CLIENT_NO_CONTEXT_TAKEOVER_PARAM = "client_no_context_takeover"

    def __init__(self, request: headers.ExtensionParameter, *, rfc_parameters: bool = True) -> None:
        super().__init__(request)
        self.rfc_parameters = rfc_parameters
        self._preferred_client_max_window_bits: int | None = None
        self._client_no_context_takeover = False
        self._bfinal = False
        self._compress_outgoing = True
        self._codec: PerMessageDeflate | None = None

    def name(self) -> str:
        return "deflate"  # pywebsocket's name for it; the offer's is request().name()

    def set_client_max_window_bits(self, value: int) -> None:
        if not 8 <= value <= 15:
            raise ValueError("client_max_window_bits must be between 8 and 15")
        self._preferred_client_max_window_bits = value

    def set_client_no_context_takeover(self, value: bool) -> None:
        self._client_no_context_takeover = value

    def set_bfinal(self, value: bool) -> None:
        """End each message with a final deflate block (BFINAL set) and a fresh context."""
        self._bfinal = bool(value)
        if self._codec is not None:
            self._codec.bfinal = self._bfinal

    def enable_outgoing_compression(self) -> None:
        self._set_compress_outgoing(True)

    def disable_outgoing_compression(self) -> None:
        self._set_compress_outgoing(False)

    def _set_compress_outgoing(self, value: bool) -> None:
        self._compress_outgoing = value
        if self._codec is not None:
            self._codec.compress_outgoing = value

    def _get_extension_response_internal(self) -> headers.ExtensionParameter | None:
        """Accept the offer (the response's parameters) or decline it (None)."""
        params = _parse_offer(self._request)
        if params is None:
            _log.debug("declining invalid permessage-deflate offer %s", headers.format_extension(self._request))
            return None
        if not self.rfc_parameters and not _pywebsocket3_takes(params):
            _log.debug("declining %s as pywebsocket3 did", headers.format_extension(self._request))
            return None
        server_bits = params.get("server_max_window_bits")
        if server_bits == "8":
            _log.debug("declining server_max_window_bits=8: zlib cannot deflate with a 256-byte window")
            return None
        client_bits = self._preferred_client_max_window_bits
        if client_bits is not None and "client_max_window_bits" not in params:
            return None  # the client cannot limit its window: it did not offer to
        server_no_context = "server_no_context_takeover" in params
        client_no_context = "client_no_context_takeover" in params or self._client_no_context_takeover
        if client_bits is not None and params["client_max_window_bits"]:
            client_bits = min(client_bits, int(params["client_max_window_bits"] or 15))
        response = _response(server_bits, server_no_context, client_bits, client_no_context)
        self._codec = PerMessageDeflate(
            server_no_context_takeover=server_no_context,
            client_no_context_takeover=client_no_context,
            server_max_window_bits=int(server_bits) if server_bits else 15,
        )
        self._codec.compress_outgoing = self._compress_outgoing
        self._codec.bfinal = self._bfinal
        return response

    def codec(self) -> PerMessageDeflate | None:
        """The codec for the stream, once ``get_extension_response()`` accepted the offer."""
        return self._codec


def _pywebsocket3_takes(params: dict[str, str | None]) -> bool:
    """Whether pywebsocket3 accepted an offer with these parameters."""
    return "client_no_context_takeover" not in params and params.get("client_max_window_bits") is None


def _response(
    server_bits: str | None, server_no_context: bool, client_bits: int | None, client_no_context: bool
) -> headers.ExtensionParameter:
    """The accepted parameters, in pywebsocket3's order (clients that compare the
    ``Sec-WebSocket-Extensions`` value as a string see the same text)."""
    response = headers.ExtensionParameter(constants.PERMESSAGE_DEFLATE_EXTENSION)
    if server_bits is not None:
        response.add_parameter("server_max_window_bits", server_bits)
    if server_no_context:
        response.add_parameter("server_no_context_takeover", None)
    if client_bits is not None:
        response.add_parameter("client_max_window_bits", str(client_bits))
    if client_no_context:
        response.add_parameter("client_no_context_takeover", None)
    return response


_available_processors[constants.PERMESSAGE_DEFLATE_EXTENSION] = PerMessageDeflateExtensionProcessor


def get_extension_processor(
    extension_request: headers.ExtensionParameter, *, rfc_parameters: bool = True
) -> ExtensionProcessorInterface | None:
    """A processor for an offered extension this server implements, or None."""
    processor_class = _available_processors.get(extension_request.name())
    if processor_class is PerMessageDeflateExtensionProcessor:
        return PerMessageDeflateExtensionProcessor(extension_request, rfc_parameters=rfc_parameters)
    return None if processor_class is None else processor_class(extension_request)
