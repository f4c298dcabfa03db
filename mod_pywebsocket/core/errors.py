"""Every exception the server raises, under the names pywebsocket handlers catch.

They are defined once here and re-exported from ``stream``, ``msgutil``,
``handshake`` and ``dispatch``, where older handler code imports them from.
"""

from __future__ import annotations

from . import constants


class ConnectionTerminatedException(Exception):
    """The WebSocket connection ended (EOF, I/O error or a failed connection)."""


class InvalidFrameException(ConnectionTerminatedException):
    """The peer broke the framing rules; the connection was failed with 1002."""

    close_code = constants.STATUS_PROTOCOL_ERROR


class MessageTooBigException(InvalidFrameException):
    """A message exceeded the configured size limit; the connection was failed with 1009."""

    close_code = constants.STATUS_MESSAGE_TOO_BIG


class InvalidUTF8Exception(Exception):
    """A text message or close reason was not valid UTF-8; failed with 1007."""

    close_code = constants.STATUS_INVALID_FRAME_PAYLOAD_DATA


class UnsupportedFrameException(Exception):
    """A frame this server cannot process; kept for handlers that catch it (close 1003)."""

    close_code = constants.STATUS_UNSUPPORTED_DATA


class BadOperationException(Exception):
    """The handler asked for something the connection's state does not allow."""


class HandshakeException(Exception):
    """The opening handshake failed; ``status`` is the HTTP status to answer with."""

    def __init__(self, name: str, status: int | None = None) -> None:
        super().__init__(name)
        self.status = status if status is not None else constants.HTTP_STATUS_BAD_REQUEST


class VersionException(HandshakeException):
    """Unsupported Sec-WebSocket-Version: answered 426 with the versions we speak."""

    def __init__(self, name: str, supported_versions: str = "13") -> None:
        super().__init__(name, constants.HTTP_STATUS_UPGRADE_REQUIRED)
        self.supported_versions = supported_versions


class AbortedByUserException(Exception):
    """Raised by a handler to drop the connection without any further response."""


class DispatchException(Exception):
    """No usable handler for a resource; ``status`` is the HTTP status to answer with."""

    def __init__(self, name: str, status: int = constants.HTTP_STATUS_NOT_FOUND) -> None:
        super().__init__(name)
        self.status = status


class ProtocolError(Exception):
    """Raised by the sans-I/O core: the connection must be failed with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.peer_close_code: int | None = None  # an invalid close code the peer sent


def exception_for_close_code(code: int, reason: str) -> Exception:
    """Map a failure's close code to the exception pywebsocket handlers expect."""
    if code == constants.STATUS_INVALID_FRAME_PAYLOAD_DATA:
        return InvalidUTF8Exception(reason)
    if code == constants.STATUS_MESSAGE_TOO_BIG:
        return MessageTooBigException(reason)
    if code == constants.STATUS_UNSUPPORTED_DATA:
        return UnsupportedFrameException(reason)
    return InvalidFrameException(reason)
