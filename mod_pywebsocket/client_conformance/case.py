"""What a client-conformance case is: its id, its text, its script, its expectations.

A case is data plus a script. The script is a plain function that drives a
``Session`` (``session.Session`` implements it over a live connection; unit tests
use a recording fake): it sends frames, waits, and states what it expects to have
observed from the client by the end. The runner gives the verdicts
(``verdicts.judge``) once the connection is over.

What the client does is recorded as a list of observations, compared as a whole
with each expected list (``Session.expect``):

* ``("message", payload, binary)``: a whole message the client sent (bytes, bool);
* ``("ping", payload)`` / ``("pong", payload)``: a control frame from the client;
* ``("timeout", marker)``: the script's ``wait(seconds, marker)`` ran to its end
  with the connection still open (so the client had not failed it by then).

The cases themselves are written from the Autobahn TestSuite's published case
descriptions and RFC 6455/7692; the ids, order and verdict rules follow that suite
so that its browser page, harnesses and report readers work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# -- verdict labels (Autobahn's spelling) --------------------------------------------
OK = "OK"
NON_STRICT = "NON-STRICT"
FAILED = "FAILED"
INFORMATIONAL = "INFORMATIONAL"
UNIMPLEMENTED = "UNIMPLEMENTED"
WRONG_CODE = "WRONG CODE"
UNCLEAN = "UNCLEAN"
FAILED_BY_CLIENT = "FAILED BY CLIENT"

Observation = tuple[Any, ...]

# Close codes, for the scripts' expectations.
NORMAL = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
MANDATORY_EXTENSION = 1010
INTERNAL_ERROR = 1011


@dataclass(frozen=True)
class ExpectedClose:
    """How the connection should end.

    ``closed_by_me``: the server (this suite) starts the closing handshake, else the
    client must (by failing the connection); ``codes``: close codes the client may
    send (none sent is accepted too); ``require_clean``: the closing handshake must
    complete before TCP closes; ``wrong_endpoint_fatal``: if the wrong side closed,
    the behaviour verdict is FAILED too (the client did not detect the fault).
    """

    closed_by_me: bool
    codes: tuple[int, ...] = (NORMAL,)
    require_clean: bool = True
    wrong_endpoint_fatal: bool = False


@dataclass(frozen=True)
class DeflateOffer:
    """One permessage-deflate offer of the client's (RFC 7692 section 7.1)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | bool = False  # True: offered without a value

    def accepts_no_context_takeover(self) -> bool:
        """Whether the server may ask for client_no_context_takeover: as in the suite, only if
        the client offered it (RFC 7692 section 7.1.1.2 would let the server ask anyway)."""
        return self.client_no_context_takeover

    def accepts_max_window_bits(self) -> bool:
        """Whether the server may set client_max_window_bits: only if the client offered it."""
        return self.client_max_window_bits is not False


@dataclass(frozen=True)
class DeflateAccept:
    """The server's answer to one offer: what it asks of the client's compressor."""

    offer: DeflateOffer
    client_no_context_takeover: bool = False  # ask the client not to keep its context
    client_max_window_bits: int | None = None  # ask the client for this window (8-15)


class Session(Protocol):
    """What a case's script can do. Every wait keeps receiving (and recording) meanwhile.

    Whenever a new observation makes the observations equal every expected list (so
    only with one expected list, or equal ones) and the server is to close, the
    server closes at once with the first expected code; never before the first
    observation, and never a second time.
    """

    #: True once permessage-deflate was negotiated for this connection.
    deflate: bool
    #: The verdict a case gives itself (sections 9, 12, 13); None: compare observations.
    behavior: str | None
    #: The close verdict a case gives itself; None: judged as usual.
    behavior_close: str | None
    #: A sentence for the report, when the case gives its own verdict.
    result: str

    def expect(self, ok: Sequence[Observation], non_strict: Sequence[Observation] | None = None) -> None:
        """The observations that earn OK (and, if given, NON-STRICT); anything else is FAILED."""

    def expect_close(self, expected: ExpectedClose) -> None:
        """How the connection should end (see ``ExpectedClose``)."""

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                   chop: int | None = None) -> None:  # fmt: skip
        """A frame exactly as given (any opcode, reserved bits ``rsv`` = 0-7 for RSV1-3 as
        bits 4-2-1, any length); ``chop``: write it in pieces of that many bytes."""

    def send_message(self, payload: bytes, binary: bool = False, *, fragment_size: int | None = None) -> None:
        """A message of these bytes (never checked or re-encoded), compressed if deflate was
        negotiated, in frames of at most ``fragment_size`` payload bytes when given."""

    def send_raw(self, data: bytes) -> None:
        """Bytes written as they are: part of a frame, to split a frame across waits."""

    def send_ping(self, payload: bytes = b"") -> None:
        """A ping with this payload (any length)."""

    def send_close(self, code: int | None = NORMAL, reason: bytes = b"") -> None:
        """Start the closing handshake: ``code`` (any, even 0 or 1005) and ``reason`` as given;
        ``code=None``: an empty body. Does nothing once a close was sent."""

    def send_close_body(self, body: bytes) -> None:
        """Start the closing handshake with a raw body (e.g. one byte long)."""

    def wait(self, seconds: float, marker: str | None = None) -> bool:
        """Receive for ``seconds``; True if the connection is still open (no close frame either
        way, TCP up), and then ``("timeout", marker)`` is recorded if a marker is given."""

    def close_after(self, seconds: float) -> None:
        """Receive until the connection is no longer open or ``seconds`` pass, then close with
        1000 if it still is; the closing handshake is finished after the script."""

    def kill_after(self, seconds: float) -> None:
        """Receive for ``seconds`` (or until the client closes TCP), then drop TCP; the script ends."""

    def wait_for_message(self, seconds: float) -> Observation | None:
        """The next message the client sends within ``seconds``, else None (timed out, or the
        connection ended). It is handed over, not recorded: cases of thousands of echoes
        judge them one by one and give their own verdict."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""

    def log(self, text: str) -> None:
        """A line for the case's report (what the script did, in words)."""

    def set_wire_log(self, on: bool) -> None:
        """Stop (or restart) logging every frame: for cases sending thousands of messages."""


Script = Callable[[Session], None]
DeflateChooser = Callable[[Sequence[DeflateOffer]], DeflateAccept | None]


@dataclass(frozen=True)
class Case:
    """One case. ``id`` like ``"5.19"``; ``deflate``: chooses among the client's offers
    (None: permessage-deflate is declined); ``timeout``: seconds after which the
    runner ends the case whatever the script does."""

    id: str
    description: str
    expectation: str
    script: Script
    deflate: DeflateChooser | None = None
    timeout: float = 30.0
    report_time: bool = False
    #: Runs once the verdicts are in, to adjust them (``verdicts.Outcome``), as a few cases must.
    after: Callable[[Any], None] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.id.split("."))
