"""Per-connection captures: what ``ConnectionCapture`` records, and what tshark makes of it.

The captures are built directly (no server) and opened with Debian's tshark, which has
to dissect them as HTTP and WebSocket with its default settings. The tests that need
tshark are skipped when it is not installed (``make tshark``); the others (frames,
caps, garbage, the store) run anyway.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

from mod_pywebsocket.runtime import capture as capture_module
from mod_pywebsocket.runtime.capture import CaptureStore, ConnectionCapture

needs_tshark = pytest.mark.skipif(
    shutil.which("tshark") is None or shutil.which("capinfos") is None,
    reason="tshark is not installed (make tshark, or apt-get install tshark)",
)

MASK = b"\x37\xfa\x21\x3d"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
REQUEST = (
    "GET /echo HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()
RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)
START = 1_700_000_000.0


def frame(opcode: int, payload: bytes, mask: bytes | None = None, fin: bool = True, rsv1: bool = False) -> bytes:
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask_bit = 0x80 if mask else 0
    size = len(payload)
    if size < 126:
        head = bytes([first, mask_bit | size])
    elif size < 65536:
        head = bytes([first, mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([first, mask_bit | 127]) + size.to_bytes(8, "big")
    if mask:
        key = (mask * (size // 4 + 1))[:size]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big") if size else b""
        head += mask
    return head + payload


class Clock:
    """A clock that moves a millisecond each time it is read."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def new_capture(
    peer: tuple[str, int] = ("192.0.2.10", 51234),
    local: tuple[str, int] = ("192.0.2.20", 8443),
    response: bytes = RESPONSE,
    comment: str = "",
    **caps: int,
) -> ConnectionCapture:
    capture = ConnectionCapture(peer=peer, local=local, transport="wss", resource="/echo", clock=Clock(), **caps)
    capture.handshake(REQUEST, response, comment)
    return capture


def write(capture: ConnectionCapture, tmp_path: Path, comment: str = "handler /echo; close 1000 in, 1000 out") -> Path:
    path = tmp_path / "capture.pcapng"
    path.write_bytes(capture.pcapng(comment))
    return path


def tshark(path: Path, *fields: str, display_filter: str = "") -> list[dict[str, list[str]]]:
    """Each packet's (or each packet ``display_filter`` keeps) values of ``fields``."""
    command = ["tshark", "-r", str(path), "-T", "json"]
    if display_filter:
        command += ["-Y", display_filter]
    for field in fields:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return [packet["_source"]["layers"] for packet in json.loads(result.stdout or "[]")]


def warnings(path: Path) -> list[dict[str, list[str]]]:
    """The packets tshark has a warning or an error about (TCP analysis included)."""
    return tshark(path, "frame.number", "_ws.expert.message", display_filter='_ws.expert.severity >= "Warning"')


def one(layers: dict[str, list[str]], field: str) -> str | None:
    values = layers.get(field)
    return values[0] if values else None


# -- the frames both ways, as tshark dissects them --------------------------------------


def conversation() -> ConnectionCapture:
    capture = new_capture(comment="HTTP/2: the handshake was an extended CONNECT")
    # Many frames in one read: text, binary, and a text message in three fragments.
    capture.received(
        frame(0x1, "héllo".encode(), MASK)
        + frame(0x2, b"\x00\x01\x02\xff", MASK)
        + frame(0x1, b"one ", MASK, fin=False)
        + frame(0x0, b"two ", MASK, fin=False)
        + frame(0x0, b"three", MASK)
    )
    # Ours: header and payload written apart.
    reply = frame(0x1, "héllo".encode())
    capture.sent(reply[:2])
    capture.sent(reply[2:])
    capture.sent(frame(0x2, b"\x00\x01\x02\xff"))
    capture.sent(frame(0x1, b"one two three"))
    # One frame over many reads: a byte at a time.
    for byte in frame(0x9, b"are you there", MASK):
        capture.received(bytes([byte]))
    capture.sent(frame(0xA, b"are you there"))
    capture.received(frame(0x8, b"\x03\xe8bye now", MASK))
    capture.sent(frame(0x8, b"\x03\xe8bye now"))
    return capture


def test_frames_lists_every_frame_both_ways_unmasked():
    records = conversation().frames()
    assert [(r.direction, r.opcode, r.fin, r.masked) for r in records] == [
        ("in", 1, True, True),
        ("in", 2, True, True),
        ("in", 1, False, True),
        ("in", 0, False, True),
        ("in", 0, True, True),
        ("out", 1, True, False),
        ("out", 2, True, False),
        ("out", 1, True, False),
        ("in", 9, True, True),
        ("out", 10, True, False),
        ("in", 8, True, True),
        ("out", 8, True, False),
    ]
    assert records[0].payload == "héllo".encode() and records[0].length == 6 and not records[0].truncated
    assert records[8].payload == b"are you there"
    assert records[10].payload == b"\x03\xe8bye now"
    assert all(not (r.rsv1 or r.rsv2 or r.rsv3) for r in records)
    assert records[0].time == records[4].time < records[5].time  # one read, one time


@needs_tshark
def test_tshark_dissects_the_handshake_and_every_frame_both_ways(tmp_path):
    path = write(conversation(), tmp_path)
    packets = tshark(
        path,
        "frame.number",
        "frame.time_epoch",
        "tcp.srcport",
        "http.request.uri",
        "http.response.code",
        "websocket.opcode",
        "websocket.fin",
        "websocket.mask",
        "websocket.payload.text",
        "websocket.payload.ping",
        "websocket.payload.pong",
        "websocket.payload.close.status_code",
        "websocket.payload.close.reason",
        "websocket.fragment",
    )
    assert one(packets[3], "http.request.uri") == "/echo"
    assert one(packets[4], "http.response.code") == "101"
    ws = [p for p in packets if "websocket.opcode" in p]
    incoming = [p for p in ws if one(p, "tcp.srcport") == "51234"]
    assert [(one(p, "websocket.opcode"), one(p, "websocket.mask")) for p in ws] == [
        ("1", "1"),
        ("2", "1"),
        ("1", "1"),
        ("0", "1"),
        ("0", "1"),
        ("1", "0"),
        ("2", "0"),
        ("1", "0"),
        ("9", "1"),
        ("10", "0"),
        ("8", "1"),
        ("8", "0"),
    ]
    assert one(ws[0], "websocket.payload.text") == "héllo"
    assert one(ws[5], "websocket.payload.text") == "héllo"
    assert one(ws[4], "websocket.payload.text") == "one two three"  # the fragments, reassembled
    assert ws[4]["websocket.fragment"] == [one(ws[i], "frame.number") for i in (2, 3, 4)]
    assert one(ws[7], "websocket.payload.text") == "one two three"
    assert one(ws[8], "websocket.payload.ping") == b"are you there".hex()
    assert one(ws[9], "websocket.payload.pong") == b"are you there".hex()
    for close in ws[10:]:
        assert one(close, "websocket.payload.close.status_code") == "1000"
        assert one(close, "websocket.payload.close.reason") == "bye now"
    assert len(incoming) == 7
    # Real timestamps: the clock's, to the microsecond.
    assert abs(float(one(ws[0], "frame.time_epoch") or 0) - (START + 0.003)) < 1e-6
    assert warnings(path) == []


@needs_tshark
def test_the_comments_name_the_real_ports_and_say_what_the_caller_said(tmp_path):
    path = write(conversation(), tmp_path, "handler /echo; close 1000 in, 1000 out")
    packets = tshark(path, "frame.comment", "tcp.srcport", "tcp.dstport", "ip.src", "ip.dst")
    assert one(packets[0], "frame.comment") == "wss: peer 192.0.2.10:51234, local 192.0.2.20:8443"
    assert one(packets[3], "frame.comment") == "HTTP/2: the handshake was an extended CONNECT"
    assert (one(packets[0], "ip.src"), one(packets[0], "tcp.srcport")) == ("192.0.2.10", "51234")
    assert (one(packets[0], "ip.dst"), one(packets[0], "tcp.dstport")) == ("192.0.2.20", "80")
    section = subprocess.run(["capinfos", "-k", str(path)], capture_output=True, text=True, check=True).stdout
    assert "handler /echo; close 1000 in, 1000 out" in section
    assert "wss /echo, peer 192.0.2.10:51234, local 192.0.2.20:8443" in section
    assert "server port 8443 written as 80" in section


@needs_tshark
@pytest.mark.parametrize("port", [80, 8080])
def test_a_server_on_a_port_wireshark_takes_for_http_keeps_it(tmp_path, port):
    # And the HTTP/1.1 form of an HTTP/2 or HTTP/3 handshake (no key, no accept) is enough.
    response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    capture = new_capture(local=("192.0.2.20", port), response=response)
    capture.received(frame(0x1, b"hi", MASK))
    packets = tshark(write(capture, tmp_path), "frame.comment", "tcp.dstport", "websocket.payload.text")
    assert one(packets[0], "tcp.dstport") == str(port)
    assert one(packets[0], "frame.comment") is None
    assert one(packets[-4], "websocket.payload.text") == "hi"


@needs_tshark
def test_ipv6_addresses(tmp_path):
    capture = new_capture(peer=("2001:db8::10", 51234), local=("2001:db8::20%eth0", 443))
    capture.received(frame(0x1, b"over IPv6", MASK))
    capture.sent(frame(0x1, b"over IPv6"))
    path = write(capture, tmp_path)
    packets = tshark(path, "ipv6.src", "ipv6.dst", "websocket.payload.text", display_filter="websocket")
    assert [(one(p, "ipv6.src"), one(p, "websocket.payload.text")) for p in packets] == [
        ("2001:db8::10", "over IPv6"),
        ("2001:db8::20", "over IPv6"),
    ]
    assert warnings(path) == []


@needs_tshark
def test_the_ip_and_tcp_checksums_are_right(tmp_path):
    for peer, local in ((("192.0.2.10", 51234), ("192.0.2.20", 80)), (("2001:db8::10", 51234), ("2001:db8::20", 80))):
        capture = conversation() if ":" not in peer[0] else new_capture(peer=peer, local=local)
        capture.received(frame(0x1, b"odd", MASK))
        command = ["tshark", "-r", str(write(capture, tmp_path)), "-o", "ip.check_checksum:TRUE"]
        command += [
            "-o",
            "tcp.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
        ]
        lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
        assert lines and set(lines) == {"1"}  # 1: good


def test_a_v4_mapped_peer_is_ipv4_and_a_name_is_a_documentation_address():
    capture = ConnectionCapture(
        peer=("::ffff:198.51.100.7", 40000), local=("unix-socket", 0), transport="ws", resource="/"
    )
    data = capture.pcapng("")
    assert bytes([198, 51, 100, 7]) in data and bytes([192, 0, 2, 2]) in data
    assert b"server address 'unix-socket' written as 192.0.2.2" in data


@needs_tshark
def test_permessage_deflate_is_shown_decompressed(tmp_path):
    response = RESPONSE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    capture = new_capture(response=response)
    compressor = zlib.compressobj(wbits=-15)
    for text in (b"compressed, and compressed again", b"compressed, and compressed again: the context is kept"):
        data = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        capture.sent(frame(0x1, data[:-4], rsv1=True))
    assert capture.frames()[0].rsv1
    packets = tshark(write(capture, tmp_path), "websocket.pmc", "websocket.payload.text", display_filter="websocket")
    assert [(one(p, "websocket.pmc"), one(p, "websocket.payload.text")) for p in packets] == [
        ("1", "compressed, and compressed again"),
        ("1", "compressed, and compressed again: the context is kept"),
    ]


# -- the caps ---------------------------------------------------------------------------


def test_a_frame_over_frame_bytes_keeps_its_first_bytes_still_masked():
    capture = new_capture(frame_bytes=4096)
    payload = bytes(range(256)) * 4096  # 1 MiB
    data = frame(0x2, payload, MASK) + frame(0x1, b"after", MASK)
    for start in range(0, len(data), 65536):
        capture.received(data[start : start + 65536])
    capture.sent(frame(0x2, payload) + frame(0x1, b"after"))
    records = capture.frames()
    assert [(r.length, len(r.payload), r.truncated) for r in records] == [
        (1 << 20, 4096, True),
        (5, 5, False),
        (1 << 20, 4096, True),
        (5, 5, False),
    ]
    assert records[0].payload == payload[:4096] == records[2].payload
    assert len(capture.pcapng("")) < 32 * 1024


@needs_tshark
def test_tshark_sees_the_cut_frame_and_goes_on_with_the_next(tmp_path):
    capture = new_capture(frame_bytes=4096)
    payload = b"\x5a" * (1 << 20)
    data = frame(0x2, payload, MASK) + frame(0x1, b"after the big one", MASK)
    for start in range(0, len(data), 100_000):
        capture.received(data[start : start + 100_000])
    capture.sent(frame(0x2, payload))
    capture.sent(frame(0x1, b"after the big one"))
    path = write(capture, tmp_path)
    packets = tshark(
        path,
        "frame.comment",
        "websocket.payload_length_ext_16",
        "websocket.payload",
        "websocket.payload.text",
        "websocket.mask",
        display_filter="websocket",
    )
    assert [one(p, "frame.comment") for p in packets] == ["payload 1048576 bytes, first 4096 kept", None] * 2
    assert [one(p, "websocket.payload_length_ext_16") for p in packets[::2]] == ["4096", "4096"]
    assert [one(p, "websocket.payload.text") for p in packets[1::2]] == ["after the big one"] * 2
    binary = tshark(path, "data.data", display_filter="websocket.opcode == 2")
    assert [one(p, "data.data") for p in binary] == ["5a" * 4096] * 2  # unmasked by tshark
    assert warnings(path) == []


def test_the_connection_cap_stops_recording_and_counts_the_rest():
    capture = new_capture(connection_bytes=4000)
    overhead = capture_module.PACKET_OVERHEAD
    incoming, outgoing = frame(0x2, b"x" * 500, MASK), frame(0x2, b"y" * 300)  # 508 and 304 bytes
    for _ in range(10):
        capture.received(incoming)
        capture.sent(outgoing)
    kept = capture.frames()
    kept_in = sum(r.direction == "in" for r in kept) * len(incoming)
    kept_out = sum(r.direction == "out" for r in kept) * len(outgoing)
    used = len(REQUEST) + len(RESPONSE) + kept_in + kept_out + (len(kept) + 2) * overhead
    assert 0 < len(kept) < 20 and used <= 4000 < used + len(incoming) + overhead
    more_in, more_out = 10 * len(incoming) - kept_in, 10 * len(outgoing) - kept_out
    assert f"capture cut at 4000 bytes; {more_in} more bytes in, {more_out} out not kept".encode() in capture.pcapng("")
    capture.received(b"\x81\x00")  # still counted
    assert f"{more_in + 2} more bytes in".encode() in capture.pcapng("")
    assert len(capture.frames()) == len(kept)


@needs_tshark
def test_tshark_reads_a_cut_capture_and_its_last_comment(tmp_path):
    capture = new_capture(connection_bytes=3000)
    for index in range(20):
        capture.received(frame(0x1, f"message {index}".encode() * 10, MASK))
        capture.sent(frame(0x1, f"message {index}".encode() * 10))
    path = write(capture, tmp_path)
    packets = tshark(path, "frame.comment", "websocket.payload.text", "tcp.flags.fin")
    texts = [one(p, "websocket.payload.text") for p in packets if "websocket.payload.text" in p]
    assert texts and texts == [r.payload.decode() for r in capture.frames()]
    assert one(packets[-3], "tcp.flags.fin") == "1"
    assert (one(packets[-3], "frame.comment") or "").startswith("capture cut at 3000 bytes; ")
    assert warnings(path) == []


# -- garbage ----------------------------------------------------------------------------


def test_garbage_never_raises_and_still_makes_a_file():
    rng = random.Random(6455)
    for _ in range(200):
        capture = new_capture(frame_bytes=rng.choice([0, 1, 16, 4096]), connection_bytes=rng.choice([0, 600, 1 << 20]))
        for _ in range(rng.randrange(1, 30)):
            data = rng.randbytes(rng.randrange(0, 300))
            (capture.received if rng.random() < 0.5 else capture.sent)(data)
        capture.frames()
        assert capture.pcapng("garbage").startswith(b"\x0a\x0d\x0d\x0a")


def test_bytes_that_stop_making_sense_are_kept_raw_and_capped():
    capture = new_capture(frame_bytes=64)
    capture.received(frame(0x1, b"fine", MASK) + b"\x83\x02" + b"z" * 1000)  # opcode 3 is reserved
    capture.received(b"more")
    capture.sent(frame(0x9, b"p" * 126))  # a control frame over 125 bytes
    capture.sent(b"\x82\xff" + b"\x80" + b"\0" * 7)  # a 64-bit length with its top bit set: never parsed, already raw
    assert [(r.direction, r.opcode, r.payload) for r in capture.frames()] == [("in", 1, b"fine")]
    data = capture.pcapng("")
    assert b"not a WebSocket frame here (reserved opcode 0x3)" in data
    assert b"not a WebSocket frame here (control frame 0x9 of 126 bytes)" in data
    assert b"942 bytes in after the unparseable data not kept" in data  # 1,002 + 4, 64 kept
    assert b"76 bytes out after the unparseable data not kept" in data  # 130 + 10, 64 kept
    capture = new_capture()
    capture.received(b"\x82\xff\x80" + b"\0" * 7)
    assert b"a 64-bit payload length with its top bit set" in capture.pcapng("")


def test_an_incomplete_header_at_the_end_is_written_as_it_came():
    capture = new_capture()
    capture.received(b"\x81\xfe\x01")  # 16-bit length, one of its bytes
    assert capture.frames() == []
    assert b"an incomplete frame header" in capture.pcapng("")


def test_reads_and_writes_at_once_from_two_threads():
    capture = new_capture(frame_bytes=64)
    incoming = frame(0x2, b"i" * 100, MASK)
    outgoing = frame(0x2, b"o" * 100)

    def read() -> None:
        for _ in range(2000):
            capture.received(incoming[:50])
            capture.received(incoming[50:])

    def write_() -> None:
        for _ in range(2000):
            capture.sent(outgoing)

    threads = [threading.Thread(target=read), threading.Thread(target=write_)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = capture.frames()
    assert sum(r.direction == "in" for r in records) == 2000 == sum(r.direction == "out" for r in records)
    assert {r.payload for r in records} == {b"i" * 64, b"o" * 64}


# -- the store --------------------------------------------------------------------------


def small_capture() -> ConnectionCapture:
    capture = new_capture()
    capture.received(frame(0x1, b"hi", MASK))
    return capture


@pytest.mark.parametrize(
    ("mode", "abnormal", "saved"),
    [("off", True, False), ("errors", False, False), ("errors", True, True), ("all", False, True)],
)
def test_the_store_writes_what_its_mode_asks_for(tmp_path, mode, abnormal, saved):
    store = CaptureStore(str(tmp_path / "captures"), mode)
    assert store.wants() is (mode != "off")
    path = store.save(small_capture(), "2024-01-01T00-00-00_c1", "comment", abnormal)
    if saved:
        assert path == str(tmp_path / "captures" / "2024-01-01T00-00-00_c1.pcapng")
        assert Path(path).read_bytes().startswith(b"\x0a\x0d\x0d\x0a")
        assert os.listdir(tmp_path / "captures") == ["2024-01-01T00-00-00_c1.pcapng"]  # no temporary file left
    else:
        assert path is None and not (tmp_path / "captures").exists()


def test_the_store_refuses_an_unknown_mode_and_cleans_names(tmp_path):
    with pytest.raises(ValueError):
        CaptureStore(str(tmp_path), "sometimes")
    path = CaptureStore(str(tmp_path), "all").save(small_capture(), "../up/../there", "", False)
    assert path is not None and Path(path).parent == tmp_path


def test_the_store_drops_the_oldest_files_past_its_total(tmp_path):
    size = len(small_capture().pcapng("comment"))
    for index in range(5):
        old = tmp_path / f"old{index}.pcapng"
        old.write_bytes(b"\0" * size)
        os.utime(old, (1_000_000 + index, 1_000_000 + index))
    (tmp_path / "notes.txt").write_bytes(b"\0" * 10 * size)  # not a capture: not counted, not removed
    store = CaptureStore(str(tmp_path), "all", total_bytes=3 * size)
    assert store.save(small_capture(), "new", "comment", False) == str(tmp_path / "new.pcapng")
    assert sorted(os.listdir(tmp_path)) == ["new.pcapng", "notes.txt", "old3.pcapng", "old4.pcapng"]


def test_the_store_never_drops_the_new_file_before_older_ones_and_drops_it_if_alone_too_big(tmp_path):
    store = CaptureStore(str(tmp_path), "all", total_bytes=100)
    assert store.save(small_capture(), "big", "comment", True) is None
    assert os.listdir(tmp_path) == []


def test_the_store_tolerates_files_another_process_removes(tmp_path, monkeypatch):
    size = len(small_capture().pcapng(""))
    for index in range(4):
        old = tmp_path / f"old{index}.pcapng"
        old.write_bytes(b"\0" * size)
        os.utime(old, (1_000_000 + index, 1_000_000 + index))
    real_scandir, real_unlink = os.scandir, os.unlink

    def scandir(path: str):  # old1 vanishes between the listing and its stat
        entries = list(real_scandir(path))
        real_unlink(tmp_path / "old1.pcapng")
        return iter(entries)

    def unlink(path: str) -> None:  # old0 vanishes just before we remove it
        real_unlink(path)
        if path.endswith("old0.pcapng"):
            raise FileNotFoundError(path)

    monkeypatch.setattr(capture_module.os, "scandir", scandir)
    monkeypatch.setattr(capture_module.os, "unlink", unlink)
    store = CaptureStore(str(tmp_path), "all", total_bytes=2 * size + 10)
    assert store.save(small_capture(), "new", "", False) is not None
    assert sorted(os.listdir(tmp_path)) == ["new.pcapng", "old3.pcapng"]
