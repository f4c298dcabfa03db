"""Sections 12 and 13: permessage-deflate (RFC 7692) under load.

Each case sends 1000 messages of one size (16 octets to 128 KiB), cut one after
the other from a data set (``testdata``), compressed, and in frames of a given
size for some; each is sent once the previous one came back. The client must
echo every message unchanged: same type, length and SHA-1, all within the case's
time; the server then closes with 1000. A client that did not negotiate
permessage-deflate gets UNIMPLEMENTED.

* 12.1 to 12.5: the five data sets, the client's offer accepted as it is.
* 13.1 to 13.7: the JSON data set, with the server accepting in seven ways:
  asking the client for no context takeover, for a window of 9 or 15 bits, or both,
  or the first of several of these that the client's offers allow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from ..case import (
    FAILED,
    NORMAL,
    OK,
    UNIMPLEMENTED,
    Case,
    DeflateAccept,
    DeflateChooser,
    DeflateOffer,
    ExpectedClose,
    Observation,
    Script,
    Session,
)
from .testdata import DATA_SETS, Slicer, TestData

#: The server closes (1000) once all messages came back, or the time ran out.
SERVER_CLOSES = ExpectedClose(closed_by_me=True, codes=(NORMAL,), require_clean=True)

#: Seconds the runner allows beyond a case's own time, for the closing handshake.
CLOSE_MARGIN = 10.0


@dataclass(frozen=True)
class Size:
    """``count`` messages of ``length`` octets within ``seconds``; ``fragment``: frame size (0: whole)."""

    length: int
    count: int
    seconds: float
    fragment: int


#: The x.y.1 to x.y.18 of each group, in the suite's order.
SIZES: tuple[Size, ...] = (
    Size(16, 1000, 60, 0),
    Size(64, 1000, 60, 0),
    Size(256, 1000, 120, 0),
    Size(1024, 1000, 240, 0),
    Size(4096, 1000, 480, 0),
    Size(8192, 1000, 480, 0),
    Size(16384, 1000, 480, 0),
    Size(32768, 1000, 480, 0),
    Size(65536, 1000, 480, 0),
    Size(131072, 1000, 480, 0),
    Size(8192, 1000, 480, 256),
    Size(16384, 1000, 480, 256),
    Size(32768, 1000, 480, 256),
    Size(65536, 1000, 480, 256),
    Size(131072, 1000, 480, 256),
    Size(131072, 1000, 480, 1024),
    Size(131072, 1000, 480, 4096),
    Size(131072, 1000, 480, 32768),
)


# -- how the server accepts the client's offers ------------------------------------------------


def _first(
    offers: Sequence[DeflateOffer], no_context_takeover: bool = False, window_bits: int | None = None
) -> DeflateAccept | None:
    """The first offer that lets the server ask for these, accepted asking for them."""
    for offer in offers:
        if no_context_takeover and not offer.accepts_no_context_takeover():
            continue
        if window_bits is not None and not offer.accepts_max_window_bits():
            continue
        return DeflateAccept(offer, client_no_context_takeover=no_context_takeover, client_max_window_bits=window_bits)
    return None


def accept_as_offered(offers: Sequence[DeflateOffer]) -> DeflateAccept | None:
    return _first(offers)


def accept_no_context_takeover(offers: Sequence[DeflateOffer]) -> DeflateAccept | None:
    return _first(offers, no_context_takeover=True)


def accept_window_9(offers: Sequence[DeflateOffer]) -> DeflateAccept | None:
    return _first(offers, window_bits=9)


def accept_window_15(offers: Sequence[DeflateOffer]) -> DeflateAccept | None:
    return _first(offers, window_bits=15)


def accept_no_context_takeover_window_9(offers: Sequence[DeflateOffer]) -> DeflateAccept | None:
    return _first(offers, no_context_takeover=True, window_bits=9)


def accept_no_context_takeover_window_15(offers: Sequence[DeflateOffer]) -> DeflateAccept | None:
    return _first(offers, no_context_takeover=True, window_bits=15)


def accept_best(offers: Sequence[DeflateOffer]) -> DeflateAccept | None:
    """No context takeover and a 9-bit window if an offer allows it, else no context takeover, else as offered."""
    return (
        accept_no_context_takeover_window_9(offers) or accept_no_context_takeover(offers) or accept_as_offered(offers)
    )


@dataclass(frozen=True)
class Variant:
    """One way of accepting, with the phrase that says what the server asks of the client."""

    choose: DeflateChooser
    asks: str


#: 13.1 to 13.7, in the suite's order.
VARIANTS: tuple[Variant, ...] = (
    Variant(accept_as_offered, "accepting the client's first offer as it is"),
    Variant(accept_no_context_takeover, "asking for client_no_context_takeover"),
    Variant(accept_window_9, "asking for client_max_window_bits=9 (if the client offered it)"),
    Variant(accept_window_15, "asking for client_max_window_bits=15 (if the client offered it)"),
    Variant(
        accept_no_context_takeover_window_9,
        "asking for client_no_context_takeover and client_max_window_bits=9 (if the client offered it)",
    ),
    Variant(
        accept_no_context_takeover_window_15,
        "asking for client_no_context_takeover and client_max_window_bits=15 (if the client offered it)",
    ),
    Variant(
        accept_best,
        "asking for client_no_context_takeover and client_max_window_bits=9 if the client offered the window, "
        "else for client_no_context_takeover only",
    ),
)


# -- the script ----------------------------------------------------------------------------------


def echo_problem(echo: Observation, sent: bytes, binary: bool) -> str | None:
    """Why ``echo`` is not ``sent`` coming back, or None."""
    _, payload, echo_binary = echo
    if echo_binary != binary:
        return f"the echo is {_kind(echo_binary)}, but a {_kind(binary)} message was sent."
    if len(payload) != len(sent):
        return f"the echo has {len(payload)} octets, but {len(sent)} were sent."
    got, wanted = hashlib.sha1(payload).hexdigest(), hashlib.sha1(sent).hexdigest()
    if got != wanted:
        return f"the echo's SHA-1 is {got}, but the message sent has {wanted}."
    return None


def _kind(binary: bool) -> str:
    return "binary" if binary else "text"


def _echo_script(data: TestData, size: Size) -> Script:
    def script(s: Session) -> None:
        s.expect_close(SERVER_CLOSES)
        if not s.deflate:
            s.behavior = UNIMPLEMENTED
            s.result = "The client did not negotiate permessage-deflate."
            s.send_close(NORMAL)
            return
        s.set_wire_log(False)
        s.behavior = FAILED
        slicer = Slicer(data.data)
        started = s.now()
        for number in range(1, size.count + 1):
            sent = slicer.take(size.length)
            s.send_message(sent, data.binary, fragment_size=size.fragment or None)
            left = size.seconds - (s.now() - started)
            echo = s.wait_for_message(left) if left > 0 else None
            if echo is None:
                s.result = f"Only {number - 1} of {size.count} messages came back within {size.seconds:g} seconds."
                break
            problem = echo_problem(echo, sent, data.binary)
            if problem is not None:
                s.result = f"Message {number}: {problem}"
                break
        else:
            s.behavior = OK
            s.result = f"All {size.count} messages came back as sent, in {s.now() - started:.3f} s."
        s.log(s.result)
        s.set_wire_log(True)
        s.send_close(NORMAL)

    return script


def _case(case_id: str, data: TestData, size: Size, variant: Variant) -> Case:
    frames = f" in frames of {size.fragment} octets" if size.fragment else ""
    messages = f"{size.count} {_kind(data.binary)} messages of {size.length} octets each"
    return Case(
        id=case_id,
        description=f"With permessage-deflate negotiated by {variant.asks}: send {messages}, cut in turn from "
        f"{data.description}, compressed{frames}; each once the previous one came back.",
        expectation=f"Every message comes back unchanged (type, length, SHA-1), all within {size.seconds:g} s; the "
        "server then closes normally. Without permessage-deflate: UNIMPLEMENTED.",
        script=_echo_script(data, size),
        deflate=variant.choose,
        timeout=size.seconds + CLOSE_MARGIN,
        report_time=True,
    )


CASES: list[Case] = [
    _case(f"12.{j}.{i}", data, size, VARIANTS[0])
    for j, data in enumerate(DATA_SETS, 1)
    for i, size in enumerate(SIZES, 1)
] + [
    _case(f"13.{j}.{i}", DATA_SETS[0], size, variant)
    for j, variant in enumerate(VARIANTS, 1)
    for i, size in enumerate(SIZES, 1)
]
