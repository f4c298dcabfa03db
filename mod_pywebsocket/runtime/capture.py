"""One connection's capture, frame by frame, and the folder captures are kept in.

``ConnectionCapture`` is given the opening handshake (in HTTP/1.1 form) and then every
byte the endpoint reads and writes on the connection, after TLS and after HTTP/2's or
HTTP/3's framing; ``pcapng()`` turns that into a file Wireshark and tshark dissect as
HTTP and WebSocket with their default settings (``pcapng`` says how, and which port
the server is given), and ``frames()`` lists the frames for a page.

Each direction's bytes go through a small frame splitter, so that each frame (or each
piece of one, when it arrives in several reads) is one TCP segment, stamped with the
time its bytes were seen. Two caps bound what one connection holds:

- ``frame_bytes``: a frame keeps the first ``frame_bytes`` bytes of its payload, and
  its header is rewritten to say that length, so that the TCP stream stays a sequence
  of whole frames and the next ones are still dissected; the packet's comment gives
  the real length. A masked frame keeps its masking key: the kept bytes are still
  masked with it correctly.
- ``connection_bytes``: past it, nothing more is recorded but the bytes are still
  counted, and the last packet's comment says how many each way were not kept.

A direction whose bytes stop making sense as frames (a reserved opcode, a control
frame that is fragmented or longer than 125 bytes, a 64-bit length with its top bit
set) is recorded from there on as the bytes came, ``frame_bytes`` of them at most.
``received`` and ``sent`` never raise: a capture must not be what ends a connection.

``CaptureStore`` is the folder (``WS_CAPTURE_DIR``): it writes the captures the mode
asks for and keeps the folder's ``*.pcapng`` files within a total, the oldest going
first; several processes may share it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.frames import apply_mask, create_length_header
from . import pcapng
from .files import replace_file
from .listeners import host_port

_log = logging.getLogger("mod_pywebsocket.capture")

MiB = 1024 * 1024

#: What one recorded packet costs beyond its bytes, counted against ``connection_bytes``
#: (so that a flood of empty frames is bounded too).
PACKET_OVERHEAD = 128

MODES = ("off", "errors", "all")
#: Seconds between two looks at the capture folder's size at most (see CaptureStore).
PRUNE_INTERVAL = 5.0

_CONTROL = 0x8


@dataclass(frozen=True)
class FrameRecord:
    """One frame as recorded: ``payload`` is its unmasked first bytes (``frame_bytes``
    at most); ``truncated`` when it holds fewer than ``length``, the frame's real
    payload length (cut by the cap, or the capture or the connection ended first)."""

    time: float
    direction: str  # "in": from the client; "out": ours
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    masked: bool
    length: int
    payload: bytes
    truncated: bool


@dataclass
class _Frame:
    time: float
    outgoing: bool
    first_byte: int
    mask_key: bytes | None
    length: int
    header: bytes  # as written in the file: its length field says len(kept) when the payload is cut
    kept: bytearray

    def record(self) -> FrameRecord:
        payload = apply_mask(bytes(self.kept), self.mask_key) if self.mask_key else bytes(self.kept)
        b0 = self.first_byte
        return FrameRecord(
            time=self.time,
            direction="out" if self.outgoing else "in",
            fin=bool(b0 & 0x80),
            rsv1=bool(b0 & 0x40),
            rsv2=bool(b0 & 0x20),
            rsv3=bool(b0 & 0x10),
            opcode=b0 & 0x0F,
            masked=self.mask_key is not None,
            length=self.length,
            payload=payload,
            truncated=len(payload) < self.length,
        )


@dataclass
class _Packet:
    """One segment's data: a frame's header and/or a range of its kept payload, or raw bytes."""

    time: float
    outgoing: bool
    comment: str
    raw: bytes = b""
    frame: _Frame | None = None
    with_header: bool = False
    start: int = 0
    end: int = 0

    def data(self) -> bytes:
        if self.frame is None:
            return self.raw
        head = self.frame.header if self.with_header else b""
        return head + bytes(self.frame.kept[self.start : self.end])


@dataclass
class _Direction:
    outgoing: bool
    seen: int = 0  # every byte handed over
    pending: bytes = b""  # the start of a frame header, waiting for its end
    pending_time: float = 0.0
    frame: _Frame | None = None  # the frame whose payload is arriving
    remaining: int = 0  # of its payload, still to come
    raw: bool = False  # the bytes stopped making sense as frames
    raw_kept: int = 0
    raw_dropped: int = 0
    seen_at_cut: int = -1


@dataclass(frozen=True)
class _Header:
    size: int
    first_byte: int
    mask_key: bytes | None
    length: int


def _parse_header(data: bytes) -> _Header | str | None:
    """A frame header at the start of ``data``; None when more bytes are needed, or why not."""
    if len(data) < 2:
        return None
    b0, b1 = data[0], data[1]
    opcode = b0 & 0x0F
    if opcode in (3, 4, 5, 6, 7) or opcode > 0xA:
        return f"reserved opcode {opcode:#x}"
    length = b1 & 0x7F
    size = 2
    if length == 126:
        if len(data) < 4:
            return None
        length = int.from_bytes(data[2:4], "big")
        size = 4
    elif length == 127:
        if len(data) < 10:
            return None
        length = int.from_bytes(data[2:10], "big")
        if length >> 63:
            return "a 64-bit payload length with its top bit set"
        size = 10
    if opcode & _CONTROL and (not b0 & 0x80 or length > 125):
        return f"control frame {opcode:#x} {'of ' + str(length) + ' bytes' if length > 125 else 'not final'}"
    mask_key = None
    if b1 & 0x80:
        if len(data) < size + 4:
            return None
        mask_key = bytes(data[size : size + 4])
        size += 4
    return _Header(size, b0, mask_key, length)


def _encode_header(first_byte: int, mask_key: bytes | None, length: int) -> bytes:
    return bytes((first_byte,)) + create_length_header(length, mask_key is not None) + (mask_key or b"")


class ConnectionCapture:
    """Records one connection: its handshake, then every byte each way, for ``pcapng()``."""

    def __init__(
        self,
        *,
        peer: tuple[str, int],
        local: tuple[str, int],
        transport: str,
        resource: str,
        frame_bytes: int = 4096,
        connection_bytes: int = 4 * MiB,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.peer = peer
        self.local = local
        self.transport = transport
        self.resource = resource
        self.frame_bytes = max(0, frame_bytes)
        self.connection_bytes = max(0, connection_bytes)
        self._clock = clock
        self._lock = threading.Lock()
        self._opened = clock()
        self._packets: list[_Packet] = []
        self._frames: list[_Frame] = []
        self._used = 0
        self._cut = False
        self._failed = ""
        self._in = _Direction(outgoing=False)
        self._out = _Direction(outgoing=True)

    # -- recording ---------------------------------------------------------------------

    def handshake(self, request_head: bytes, response_head: bytes, comment: str = "") -> None:
        """The opening handshake, in HTTP/1.1 form; ``comment`` goes on the request's packet."""
        with self._lock:
            now = self._clock()
            if self._keep(len(request_head)):
                self._packets.append(_Packet(now, False, comment, raw=bytes(request_head)))
            if self._keep(len(response_head)):
                self._packets.append(_Packet(now, True, "", raw=bytes(response_head)))

    def received(self, data: bytes) -> None:
        """Bytes read from the client, as they were read."""
        self._feed(self._in, data)

    def sent(self, data: bytes) -> None:
        """Bytes written to the client, as they were written."""
        self._feed(self._out, data)

    def _feed(self, direction: _Direction, data: bytes) -> None:
        try:
            with self._lock:
                direction.seen += len(data)
                if self._cut or self._failed:
                    return
                self._split(direction, memoryview(data).cast("B"), self._clock())
        except Exception as e:  # a capture must not end the connection it records
            _log.exception("capture of %s failed; not recording any more", self.resource)
            self._failed = f"the capture stopped on an error: {e!r}"

    def _keep(self, size: int) -> bool:
        """Whether ``size`` more bytes fit in ``connection_bytes``; once one does not, none do."""
        if self._cut:
            return False
        cost = size + PACKET_OVERHEAD
        if self._used + cost > self.connection_bytes:
            self._cut = True
            for side in (self._in, self._out):
                if side.seen_at_cut < 0:
                    side.seen_at_cut = side.seen - len(side.pending)
            return False
        self._used += cost
        return True

    def _split(self, d: _Direction, data: memoryview, now: float) -> None:
        pos = 0
        end = len(data)
        while pos < end:
            if d.raw:
                self._raw(d, bytes(data[pos:]), now, "")
                return
            frame = d.frame
            if frame is None:
                pending = len(d.pending)
                head = d.pending + bytes(data[pos : pos + 14 - pending]) if pending else bytes(data[pos : pos + 14])
                parsed = _parse_header(head)
                if parsed is None:  # wait for the rest of the header
                    if not pending:
                        d.pending_time = now
                    d.pending = head
                    return
                if isinstance(parsed, str):
                    d.pending = b""
                    d.raw = True
                    comment = (
                        f"not a WebSocket frame here ({parsed}): the rest of this direction is recorded "
                        f"as it came, {self.frame_bytes} bytes at most"
                    )
                    self._raw(d, head[:pending] + bytes(data[pos:]), now, comment)
                    return
                start_offset = d.seen - (end - pos) - pending  # where the header began in the stream
                pos += parsed.size - pending
                d.pending = b""
                kept_length = min(parsed.length, self.frame_bytes)
                comment = ""
                header = bytes(head[: parsed.size])
                if kept_length < parsed.length:
                    header = _encode_header(parsed.first_byte, parsed.mask_key, kept_length)
                    comment = f"payload {parsed.length} bytes, first {kept_length} kept"
                frame = _Frame(now, d.outgoing, parsed.first_byte, parsed.mask_key, parsed.length, header, bytearray())
                take = min(parsed.length, end - pos)
                keep = min(take, kept_length)
                if not self._keep(len(header) + keep):
                    d.seen_at_cut = start_offset
                    return
                frame.kept += data[pos : pos + keep]
                self._frames.append(frame)
                self._packets.append(_Packet(now, d.outgoing, comment, frame=frame, with_header=True, end=keep))
                pos += take
                if take < parsed.length:
                    d.frame = frame
                    d.remaining = parsed.length - take
                continue
            take = min(d.remaining, end - pos)
            keep = max(0, min(take, min(frame.length, self.frame_bytes) - len(frame.kept)))
            if keep:
                if not self._keep(keep):
                    d.seen_at_cut = d.seen - (end - pos)
                    return
                start = len(frame.kept)
                frame.kept += data[pos : pos + keep]
                self._packets.append(_Packet(now, d.outgoing, "", frame=frame, start=start, end=start + keep))
            pos += take
            d.remaining -= take
            if not d.remaining:
                d.frame = None

    def _raw(self, d: _Direction, data: bytes, now: float, comment: str) -> None:
        keep = max(0, min(len(data), self.frame_bytes - d.raw_kept))
        d.raw_dropped += len(data) - keep
        if not keep:
            return
        if not self._keep(keep):
            d.seen_at_cut = d.seen - len(data)
            return
        d.raw_kept += keep
        self._packets.append(_Packet(now, d.outgoing, comment, raw=data[:keep]))

    # -- reading -----------------------------------------------------------------------

    @property
    def bytes_received(self) -> int:
        return self._in.seen

    @property
    def bytes_sent(self) -> int:
        return self._out.seen

    def frames(self) -> list[FrameRecord]:
        """The frames recorded so far, both ways, in the order their headers were seen."""
        with self._lock:
            return [frame.record() for frame in self._frames]

    def pcapng(self, comment: str) -> bytes:
        """The capture as a pcapng file whose comment is ``comment`` and a line of our own."""
        with self._lock:
            return self._pcapng(comment)

    def _pcapng(self, comment: str) -> bytes:
        tcp = pcapng.TcpConversation(self.peer, self.local)
        real = f"peer {host_port(*self.peer)}, local {host_port(*self.local)}"
        note = f"{self.transport} {self.resource}, {real}"
        if tcp.substituted:
            note += "; in this file: " + ", ".join(tcp.substituted)
            if tcp.server_port != self.local[1]:
                note += " (Wireshark dissects port 80 as HTTP, then WebSocket, with no settings)"
        file_comment = f"{comment}\n{note}" if comment else note
        blocks = [
            pcapng.section_header_block(file_comment, application="mod_pywebsocket"),
            pcapng.interface_description_block(
                name="mod_pywebsocket",
                description=f"{self.transport} WebSocket connection as the endpoint saw it, as synthesized TCP",
            ),
        ]

        def add(timestamp: float, packets: list[bytes], first_comment: str = "") -> None:
            for index, packet in enumerate(packets):
                blocks.append(pcapng.enhanced_packet_block(timestamp, packet, first_comment if index == 0 else ""))

        add(self._opened, tcp.open(), f"{self.transport}: {real}" if tcp.substituted else "")
        last = self._opened
        for packet in self._packets:
            add(packet.time, list(tcp.data(not packet.outgoing, packet.data())), packet.comment)
            last = max(last, packet.time)
        for side in (self._in, self._out):
            if side.pending and not self._cut and not self._failed:
                add(side.pending_time, list(tcp.data(not side.outgoing, side.pending)), "an incomplete frame header")
        closing = []
        if self._cut:
            more_in = self._in.seen - max(0, self._in.seen_at_cut)
            more_out = self._out.seen - max(0, self._out.seen_at_cut)
            closing.append(
                f"capture cut at {self.connection_bytes} bytes; {more_in} more bytes in, {more_out} out not kept"
            )
        for side, name in ((self._in, "in"), (self._out, "out")):
            if side.raw_dropped:
                closing.append(f"{side.raw_dropped} bytes {name} after the unparseable data not kept")
        if self._failed:
            closing.append(self._failed)
        add(max(last, self._clock()), tcp.close(), "; ".join(closing))
        return b"".join(blocks)


class CaptureStore:
    """The folder captures are written to, and which ones are: ``mode`` ``off``,
    ``errors`` (connections that ended abnormally) or ``all``."""

    def __init__(self, directory: str, mode: str, total_bytes: int = 256 * MiB) -> None:
        if mode not in MODES:
            raise ValueError(f"capture mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.directory = directory
        self.mode = mode
        self.total_bytes = total_bytes
        # The folder's size is read (one stat per file) only when what this process
        # knows of it could pass the total, or PRUNE_INTERVAL after the last look:
        # other processes write there too. Measured: a scan of every save made capturing
        # connections cost more than serving them once the folder held thousands.
        self._lock = threading.Lock()
        self._estimate = 0
        self._scanned_at = -PRUNE_INTERVAL

    def wants(self) -> bool:
        """Whether connections should be captured at all."""
        return self.mode != "off"

    def save(self, capture: ConnectionCapture, name: str, comment: str, abnormal: bool) -> str | None:
        """Write ``capture`` as ``<directory>/<name>.pcapng`` if the mode asks for it, then
        drop the folder's oldest captures past ``total_bytes``; the path, or None."""
        if self.mode == "off" or (self.mode == "errors" and not abnormal):
            return None
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "capture"
        path = os.path.join(self.directory, safe + ".pcapng")
        try:
            data = capture.pcapng(comment)
            os.makedirs(self.directory, exist_ok=True)
            replace_file(path, data)
        except OSError as e:
            _log.warning("capture %s not saved: %s", path, e)
            return None
        with self._lock:
            self._estimate += len(data)
            due = self._estimate > self.total_bytes or time.monotonic() - self._scanned_at >= PRUNE_INTERVAL
            if due:
                self._scanned_at = time.monotonic()
        if not due:
            return path
        self.prune(keep_last=path)
        return path if os.path.exists(path) else None

    def prune(self, keep_last: str = "") -> None:
        """Drop the oldest ``*.pcapng`` files until the folder's total is within ``total_bytes``
        (``keep_last`` goes last among files of the same age). Files another process
        removes meanwhile are simply gone."""
        files = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in entries:
            if not entry.name.endswith(".pcapng"):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            files.append((stat.st_mtime_ns, entry.path == keep_last, entry.name, entry.path, stat.st_size))
        files.sort()
        total = sum(size for *_, size in files)
        for *_, path, size in files:
            if total <= self.total_bytes:
                break
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                _log.warning("capture %s not removed: %s", path, e)
                continue
            total -= size
        with self._lock:
            self._estimate = total
