"""Test data for the permessage-deflate cases (sections 12 and 13), generated here.

The suite echoes slices of five files, chosen for how differently they compress:
a JSON document and an HTML page (text, very repetitive), a photograph as a
bitmap (barely compressible), a book's text (human language, sent as binary) and
a PDF (already compressed streams between plain ones). This module builds data
with the same roles, sizes and compressibility from a seeded ``random.Random``,
so that every run sends the same octets; nothing here comes from those files.

Each data set is built once, on first use, and cached. The text sets are ASCII,
so that a slice is as many characters as octets. ``Slicer`` cuts consecutive
messages from a data set, wrapping around at its end as the suite does.
"""

from __future__ import annotations

import functools
import json
import math
import random
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Every data set is at least this long, so that the largest message (128 KiB) is a proper slice.
MIN_SIZE = 256 * 1024

_SYLLABLES = (
    "an be ch de ei en er es ge ha he ic in is ke la le li ma me mi na ne ni "
    "no re ri sa se so st te ti un ur ve we wi ze zu ab ach auf aus ben den "
    "der die ein end ern ges hat ich ist lich mit nen sch sei sie und ung ver wir"
).split()
_UMLAUTED = ("\u00e4", "\u00f6", "\u00fc", "\u00df")


@dataclass(frozen=True)
class TestData:
    """One data set: its name, a phrase for the reports, whether it goes as binary messages."""

    name: str
    description: str
    binary: bool
    build: Callable[[], bytes]

    @property
    def data(self) -> bytes:
        return _built(self.name)


class Slicer:
    """Consecutive slices of ``data``, one per message, wrapping around at its end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, length: int) -> bytes:
        piece = _wrapped(self.data, self.offset, length)
        self.offset = (self.offset + length) % len(self.data)
        return piece


def _wrapped(data: bytes, start: int, length: int) -> bytes:
    parts, size = [], len(data)
    while length > 0:
        piece = data[start : start + length]
        parts.append(piece)
        length -= len(piece)
        start = (start + len(piece)) % size
    return b"".join(parts)


# -- words -----------------------------------------------------------------------------


def _vocabulary(rng: random.Random, count: int, umlauts: bool = False) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4))))
        if umlauts and rng.random() < 0.08:
            i = rng.randrange(len(word))
            word = word[:i] + rng.choice(_UMLAUTED) + word[i + 1 :]
        words.add(word)
    return sorted(words)


def _zipf_words(rng: random.Random, vocabulary: Sequence[str], skew: float = 1.0) -> Callable[[int], list[str]]:
    """A function drawing ``n`` words with Zipf-like frequencies (common words often)."""
    weights = [1.0 / (rank + 2) ** skew for rank in range(len(vocabulary))]
    order = list(vocabulary)
    rng.shuffle(order)
    cumulative = list(_accumulate(weights))
    return lambda n: rng.choices(order, cum_weights=cumulative, k=n)


def _accumulate(values: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _sentence(rng: random.Random, draw: Callable[[int], list[str]], low: int = 4, high: int = 14) -> str:
    words = draw(rng.randint(low, high))
    words[0] = words[0].capitalize()
    for i in range(1, len(words) - 1):
        if rng.random() < 0.08:
            words[i] += ","
    return " ".join(words) + rng.choice(".....!?;:")


# -- the five data sets ------------------------------------------------------------------


def _json_document() -> bytes:
    """Records of a made-up directory, pretty-printed: keys and most values repeat."""
    rng = random.Random(0x4A534F4E)
    first = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karl", "Lena"]
    last = ["Fischer", "Meyer", "Schulz", "Wagner", "Becker", "Hoffmann", "Koch", "Richter"]
    colours, fruits = ["blue", "brown", "green"], ["apple", "banana", "strawberry"]
    tags = ["lorem", "ipsum", "dolor", "sit", "amet", "elit", "magna", "tempor"]
    abouts = [" ".join((tags[k:] + tags[:k]) * 4).capitalize() + " consectetur adipiscing." for k in range(3)]
    records: list[str] = []
    i = 0
    while sum(len(r) for r in records) < MIN_SIZE + 4096:
        record = {
            "_id": f"5a17c0de{i:016x}",
            "index": i,
            "isActive": rng.random() < 0.5,
            "balance": f"${rng.randint(1, 3)},{rng.randrange(0, 1000, 50):03d}.00",
            "age": rng.randint(20, 40),
            "eyeColor": rng.choice(colours),
            "name": f"{rng.choice(first)} {rng.choice(last)}",
            "gender": rng.choice(["female", "male"]),
            "company": rng.choice(last).upper(),
            "email": f"{rng.choice(first).lower()}@example.com",
            "phone": f"+49 (30) 555-{1000 + i % 100:04d}",
            "registered": f"2014-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00 -01:00",
            "tags": tags[i % 5 : i % 5 + 4],
            "friends": [{"id": k, "name": f"{first[(i + k) % 12]} {rng.choice(last)}"} for k in range(3)],
            "about": rng.choice(abouts),
            "greeting": f"Hello, {rng.choice(first)}! You have {rng.randint(1, 9)} unread messages.",
            "favoriteFruit": rng.choice(fruits),
            "links": {rel: f"https://example.com/api/v1/people/{i}/{rel}" for rel in ("self", "friends", "tags")},
        }
        records.append(json.dumps(record, indent=4))
        i += 1
    return ("[\n" + ",\n".join(records) + "\n]\n").encode("ascii")


def _bitmap_image() -> bytes:
    """A 512 x 512 8-bit grey-scale BMP: smooth shapes under sensor-like noise."""
    rng = random.Random(0x424D50)
    width = height = 512
    waves = [tuple(rng.uniform(0.005, 0.05) for _ in range(2)) + tuple(rng.uniform(0, 6.3) for _ in range(2))
             + (rng.uniform(12, 34),) for _ in range(6)]  # fmt: skip
    rows = []
    for y in range(height):
        noise = rng.randbytes(width)
        terms = [(fx, px, amplitude * math.sin(fy * y + py)) for fx, fy, px, py, amplitude in waves]
        row = bytearray(width)
        for x in range(width):
            value = 128.0 + sum(a * math.cos(fx * x + p) for fx, p, a in terms) + (noise[x] - 128) / 7.0
            row[x] = min(255, max(0, int(value)))
        rows.append(bytes(row))
    palette = b"".join(bytes((g, g, g, 0)) for g in range(256))
    pixels = b"".join(reversed(rows))  # BMP rows go bottom-up
    offset = 14 + 40 + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, len(pixels), 2835, 2835, 256, 256)
    return header + info + palette + pixels


def _book_text() -> bytes:
    """A verse play in an invented German-like language (UTF-8, with umlauts), speakers in capitals."""
    rng = random.Random(0x46415553)
    draw = _zipf_words(rng, _vocabulary(rng, 8000, umlauts=True), 0.85)
    speakers = [w.upper() for w in draw(12)]
    lines: list[str] = ["", "ERSTER TEIL", ""]
    while sum(len(line) + 2 for line in lines) < MIN_SIZE + 8192:
        lines += ["", rng.choice(speakers) + ":"]
        for _ in range(rng.randint(2, 12)):
            lines.append(_sentence(rng, draw, 3, 9))
    return "\r\n".join(lines).encode("utf-8")


def _html_document() -> bytes:
    """A long page of listing rows: the same markup over and over, with a few changing words."""
    rng = random.Random(0x48544D4C)
    draw = _zipf_words(rng, _vocabulary(rng, 60))
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Listing</title>\n'
        '<link rel="stylesheet" href="/static/site.css">\n</head>\n<body>\n<div id="main" class="container">\n'
    )
    parts, i = [head], 0
    while sum(len(p) for p in parts) < MIN_SIZE + 4096:
        word, summary, price = draw(1)[0], " ".join(draw(3)), rng.choice((5, 10, 20, 50))
        parts.append(
            f'<div class="row item" id="item-{i}">\n  <div class="col-md-2"><a href="/items/{i}" class="thumb">'
            f'<img src="/static/img/{word}.png" alt="{word}" width="64" height="64"></a></div>\n'
            f'  <div class="col-md-8"><h3 class="title"><a href="/items/{i}">{word.capitalize()}</a></h3>\n'
            f'    <p class="summary">{summary}</p></div>\n'
            f'  <div class="col-md-2"><span class="price">{price}.00</span></div>\n</div>\n'
        )
        i += 1
    parts.append('</div>\n<footer class="footer">&copy; example</footer>\n</body>\n</html>\n')
    return "".join(parts).encode("ascii")


def _pdf_document() -> bytes:
    """A PDF-like file: page contents in plain streams, fonts and images in compressed ones, an xref."""
    rng = random.Random(0x504446)
    draw = _zipf_words(rng, _vocabulary(rng, 3000))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []

    def add(body: bytes, stream: bytes | None = None, extra: bytes = b"") -> None:
        offsets.append(len(out))
        out.extend(b"%d 0 obj\n" % len(offsets))
        if stream is None:
            out.extend(body + b"\nendobj\n")
        else:
            out.extend(b"<< /Length %d%s >>\nstream\n" % (len(stream), extra) + stream + b"\nendstream\nendobj\n")

    add(b"<< /Type /Catalog /Pages 2 0 R >>")
    add(b"<< /Type /Pages /Count 40 >>")
    while len(out) < 4 * MIN_SIZE:
        text = b"".join(
            b"BT /F1 10 Tf 72 %d Td (%s) Tj ET\n" % (760 - 12 * k, " ".join(draw(9)).encode("ascii")) for k in range(50)
        )
        add(b"", text)
        add(b"", rng.randbytes(rng.randint(4000, 12000)), b" /Filter /DCTDecode /Subtype /Image")
        add(b"", zlib.compress(text + rng.randbytes(256), 9), b" /Filter /FlateDecode")
        add(b"<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>" % (len(offsets) - 2))
    xref = len(out)
    out.extend(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    out.extend(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.extend(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))
    return bytes(out)


#: In the suite's order (12.1 to 12.5); 13.x uses the first.
DATA_SETS: tuple[TestData, ...] = (
    TestData("json", "a JSON document", False, _json_document),
    TestData("bitmap", "a grey-scale bitmap image", True, _bitmap_image),
    TestData("book", "human-language text", True, _book_text),
    TestData("html", "an HTML document", False, _html_document),
    TestData("pdf", "a PDF-like file", True, _pdf_document),
)
_BUILDERS = {t.name: t.build for t in DATA_SETS}


@functools.cache
def _built(name: str) -> bytes:
    return _BUILDERS[name]()
