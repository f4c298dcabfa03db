"""WebSockets over HTTP/3 (RFC 9220): the third transport family, on aioquic.

``server.H3Listener`` serves a site's handlers and pages on a UDP port; it runs the
same request flow, core and settings as the TCP servers, with ``handshake`` for the
extended CONNECT and ``stream_connection`` between the QUIC loop and the handler's
thread. ``certificate`` makes the short-lived ECDSA certificate Chromium accepts.

aioquic (PyPI, pinned in the image) is optional: everything else in the package runs
on the standard library alone; ``missing()`` says why HTTP/3 cannot start.
"""

from __future__ import annotations

#: The aioquic release the image installs and the tests were measured with.
AIOQUIC_VERSION = "1.7.2"


def missing() -> str | None:
    """None when HTTP/3 can run here, else why not (one line for the log)."""
    try:
        import aioquic  # noqa: F401
    except ImportError:
        return (
            f"HTTP/3 needs aioquic, which is not installed: pip install 'mod_pywebsocket[h3]' "
            f"(or aioquic=={AIOQUIC_VERSION})"
        )
    return None
