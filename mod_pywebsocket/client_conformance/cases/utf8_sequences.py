"""The byte sequences of cases 6.5-6.23: Markus Kuhn's UTF-8 decoder stress test.

Each family is a numbered group of the stress test (plus a few the suite adds: all
prefixes of a valid string, non-characters, the Specials block), in the suite's
order; case 6.N.k sends the k-th sequence of family 6.N as one text message. The
sequences are built from code points wherever possible, and the overlong and
out-of-range ones with ``scheme``, the original UTF-8 integer encoding (RFC 2279:
up to six octets, any length at all for a value), so that what each sequence is
stays visible. Whether a sequence is valid UTF-8 (RFC 3629) is not written down but
decided by Python's strict decoder.
"""

from __future__ import annotations

#: "kosme" in Greek, two to three octets per code point; the suite's usual valid sample.
KOSME = "\u03ba\u1f79\u03c3\u03bc\u03b5".encode()


def scheme(value: int, length: int) -> bytes:
    """``value`` in the UTF-8 integer encoding scheme, in exactly ``length`` octets (1-6).

    With more octets than needed the result is an overlong form; values past
    U+10FFFF and surrogates come out as the scheme gives them (not valid UTF-8).
    """
    if length == 1:
        if value > 0x7F:
            raise ValueError(f"{value:#x} does not fit one octet")
        return bytes([value])
    tail = []
    for _ in range(length - 1):
        tail.append(0x80 | value & 0x3F)
        value >>= 6
    if value >= 1 << (7 - length):
        raise ValueError(f"value does not fit {length} octets")
    lead = (0xFF << (8 - length)) & 0xFF
    return bytes([lead | value, *reversed(tail)])


def is_valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is complete, well-formed UTF-8 (no surrogates, nothing past U+10FFFF)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _chars(*code_points: int) -> list[bytes]:
    return [chr(c).encode() for c in code_points]


def _largest(length: int) -> int:
    """The largest value the integer scheme fits in ``length`` octets."""
    return 0x7F if length == 1 else (1 << (5 * length + 1)) - 1


def _lead_octets_then_space(first: int, stop: int) -> bytes:
    return b"".join(bytes([octet, 0x20]) for octet in range(first, stop))


_LONGER = range(2, 7)  # the multi-octet lengths of the integer scheme
_TRUNCATED = [scheme(0, n)[:-1] for n in _LONGER] + [scheme(_largest(n), n)[:-1] for n in _LONGER]
_HIGH_SURROGATES = (0xD800, 0xDB7F, 0xDB80, 0xDBFF)
_LOW_SURROGATES = (0xDC00, 0xDFFF)

#: (title, sequences) of 6.5, 6.6, ... 6.23, in the suite's order.
FAMILIES: list[tuple[str, list[bytes]]] = [
    (
        "valid text with a one- to four-octet code point",
        [b"hello" + c + b"world" for c in _chars(0x24, 0xA2, 0x20AC, 0x24B62)] + [KOSME],
    ),
    ("the prefixes of a valid text with multi-octet code points", [KOSME[:n] for n in range(1, len(KOSME) + 1)]),
    ("the first code point of each sequence length", _chars(0x0, 0x80, 0x800, 0x10000)),
    ("the first five- and six-octet sequences, past U+10FFFF", [scheme(0x200000, 5), scheme(0x4000000, 6)]),
    ("the last code point of each sequence length", _chars(0x7F, 0x7FF, 0xFFFF, 0x10FFFF)),
    ("the last four- to six-octet sequences, past U+10FFFF", [scheme(_largest(n), n) for n in (4, 5, 6)]),
    (
        "code points next to the surrogates and to the end of Unicode",
        [*_chars(0xD7FF, 0xE000, 0xFFFD, 0x10FFFF), scheme(0x110000, 4)],
    ),
    (
        "continuation octets with no lead octet",
        [b"\x80", b"\xbf", *(bytes([0x80, 0xBF] * 3)[:n] for n in range(2, 7)), bytes(range(0x80, 0xBF))],
    ),
    (
        "lead octets each followed by a space",
        [
            _lead_octets_then_space(a, b)
            for a, b in ((0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD))
        ],
    ),
    ("sequences missing their last continuation octet", _TRUNCATED),
    ("all the truncated sequences of 6.14 in a row", [b"".join(_TRUNCATED)]),
    ("the octets FE and FF, which never occur in UTF-8", [b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"]),
    ("overlong forms of '/'", [scheme(0x2F, n) for n in _LONGER]),
    ("the largest overlong form of each length", [scheme(_largest(n - 1), n) for n in _LONGER]),
    ("overlong forms of NUL", [scheme(0, n) for n in _LONGER]),
    ("single UTF-16 surrogates", [scheme(c, 3) for c in (*_HIGH_SURROGATES, 0xDC00, 0xDF80, 0xDFFF)]),
    (
        "UTF-16 surrogate pairs, each half encoded on its own",
        [scheme(high, 3) + scheme(low, 3) for high in _HIGH_SURROGATES for low in _LOW_SURROGATES],
    ),
    (
        "the non-characters U+FFFE and U+FFFF of each plane",
        _chars(0xFFFE, 0xFFFF, *((plane << 16) | last for plane in range(1, 17) for last in (0xFFFE, 0xFFFF))),
    ),
    ("the Specials block U+FFF9 to U+FFFF", _chars(*range(0xFFF9, 0x10000))),
]

#: The number of the first family's subsection (6.5).
FIRST_FAMILY = 5
