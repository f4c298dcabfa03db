"""pywebsocket's ``extensions``: the extension processors handlers see and write.

``ExtensionProcessorInterface`` and the negotiation are ``core.extension_processor``;
permessage-deflate (RFC 7692), this server's one extension, is ``core.deflate``.
Handlers see one ``PerMessageDeflateExtensionProcessor`` per offer in
``request.ws_extension_processors`` and may add processors of their own.
"""

from __future__ import annotations

from . import common as common
from . import util as util
from .core.deflate import (
    PerMessageDeflate,
    PerMessageDeflateExtensionProcessor,
    get_extension_processor,
)
from .core.deflate import _available_processors as _available_processors
from .core.deflate import _parse_window_bits as _parse_window_bits
from .core.extension_processor import ExtensionProcessorInterface, negotiate
from .http_header_util import quote_if_necessary as quote_if_necessary

__all__ = [
    "ExtensionProcessorInterface",
    "PerMessageDeflate",
    "PerMessageDeflateExtensionProcessor",
    "get_extension_processor",
    "negotiate",
]


class _AverageRatioCalculator:
    """Running totals of bytes before and after a filter, and their ratio (pywebsocket's
    compression statistics; the log lines below use it)."""

    def __init__(self) -> None:
        self._total_original_bytes = 0
        self._total_result_bytes = 0

    def add_original_bytes(self, value: int) -> None:
        self._total_original_bytes += value

    def add_result_bytes(self, value: int) -> None:
        self._total_result_bytes += value

    def get_average_ratio(self) -> float:
        if not self._total_original_bytes:
            return float("inf")
        return self._total_result_bytes / self._total_original_bytes


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("inf")


def _log_outgoing_compression_ratio(logger, original_bytes: int, filtered_bytes: int, average_ratio: float) -> None:
    logger.debug("outgoing compression ratio: %f (average: %f)", _ratio(filtered_bytes, original_bytes), average_ratio)


def _log_incoming_compression_ratio(logger, received_bytes: int, filtered_bytes: int, average_ratio: float) -> None:
    logger.debug("incoming compression ratio: %f (average: %f)", _ratio(received_bytes, filtered_bytes), average_ratio)
