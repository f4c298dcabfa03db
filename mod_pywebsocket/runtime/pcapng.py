"""A small pcapng writer, and the TCP conversation a WebSocket capture is told as.

``capture`` records a WebSocket connection as the endpoint saw it: after TLS, and
after HTTP/2's or HTTP/3's framing, which leaves an HTTP/1.1-form opening handshake
followed by WebSocket frames. This module writes that as the file a packet capture
of a plain ``ws://`` connection would have been, so that Wireshark and tshark,
with their default settings, reassemble the TCP stream, dissect the handshake as
HTTP and, after ``101 Switching Protocols``, every frame as WebSocket.

The file (pcapng, https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html):
one Section Header Block (its comment is the file's comment), one Interface
Description Block (Ethernet, timestamps in microseconds: ``if_tsresol`` 6) and an
Enhanced Packet Block per TCP segment, with its own comment where there is one to
make. The segments are synthesized: Ethernet (locally administered addresses)
carrying IPv4 or IPv6 carrying TCP, with the three-way handshake at the start, the
data as PSH|ACK segments whose sequence and acknowledgement numbers follow each
direction's bytes, FIN|ACK both ways and a last ACK at the end. The window scale
option (14) on the SYNs keeps a long burst one way from looking like a full
window, and the IPv4 and TCP checksums are computed (tshark does not check them by
default, Wireshark users may), so that the expert analysis has no warning to give.

Ports. Wireshark gives a TCP segment's data to the dissector registered for the
lower of its two ports, then the higher one, and only then to the heuristic ones
(HTTP's is on by default). With tshark 4.0 (Debian 12), measured over every port a
dissector claims: a server on one of HTTP's own ports is always dissected; on 443
(TLS lets go of data that is not TLS), 8443 or an unclaimed port it is too, through
the heuristic -- unless the client's port is one another dissector claims (34980,
44321, 44322, 44818, 48049, 48898 and 57000 fall in Linux's ephemeral range); and
on 271 claimed ports (22, 25, 3306, 5432, 6000-6063, 7000, ...) the data goes to
that port's dissector and is never seen as HTTP. Newer versions claim more ports.
So ``TcpConversation`` keeps the real addresses and the client's real port, and
keeps the server's port when it is one of ``HTTP_PORTS``, the ports Wireshark
decodes as HTTP by default (below the ephemeral ranges); any other server port is
written as 80 (the file then shows a ``wss`` connection on 443 as port 80: it
shows what went inside TLS). ``capture`` names the real ports in the file's comment
and in the first packet's comment. The alternatives are worse: the exported-PDU
link type (252) would keep any port, but hands each record to a dissector by name
with no TCP stream below, so a frame read in pieces is not put together; and
a port Wireshark does not decode as HTTP has the reader use "Decode As".

What tshark 4.0 shows: the handshake as HTTP (a 101 without
``Sec-WebSocket-Accept``, as HTTP/2's and HTTP/3's stand-ins have, is enough),
then each frame with its fields (``websocket.opcode``, ``websocket.mask``,
``websocket.payload.text``, ``websocket.payload.close.status_code`` and
``.reason``, ``websocket.payload.ping`` and ``.pong``); a fragmented message
reassembled on its last fragment; with ``permessage-deflate`` in the response,
each compressed message decompressed (the context carried from one to the next),
except a compressed message sent in several fragments, whose text it shows still
compressed.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator

#: LINKTYPE_ETHERNET.
LINKTYPE_ETHERNET = 1

#: TCP ports Wireshark 4.0's HTTP dissector claims with its default settings
#: (``http.tcp.port``: 80,3128,3132,5985,8080,8088,11371,1900,2869,2710). A server on
#: one of them keeps its port in the file; any other is written as ``HTTP_PORT``.
HTTP_PORTS = frozenset({80, 3128, 3132, 5985, 8080, 8088, 11371, 1900, 2869, 2710})

#: The port the server is given in the file when Wireshark would not decode its own as HTTP.
HTTP_PORT = 80

#: The most data one synthesized segment carries (an IPv4 packet is at most 65,535 bytes).
MAX_SEGMENT = 65_000

#: The TCP window scale announced on the SYNs: 65,535 << 14, about 1 GiB in flight.
WINDOW_SCALE = 14

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPT_END = 0
_OPT_COMMENT = 1
_IF_NAME = 2
_IF_DESCRIPTION = 3
_IF_TSRESOL = 9
_SHB_USERAPPL = 4

_SYN, _FIN, _PSH, _ACK = 0x02, 0x01, 0x08, 0x10

_CLIENT_MAC = bytes.fromhex("020000000001")
_SERVER_MAC = bytes.fromhex("020000000002")


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def _options(options: list[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    return b"".join(_option(code, value) for code, value in options) + struct.pack("<HH", _OPT_END, 0)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def section_header_block(comment: str = "", application: str = "") -> bytes:
    """The file's first block; ``comment`` is what Wireshark shows as the capture file's comment."""
    options = []
    if comment:
        options.append((_OPT_COMMENT, comment.encode("utf-8", "replace")))
    if application:
        options.append((_SHB_USERAPPL, application.encode("utf-8", "replace")))
    body = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + _options(options)
    return _block(_SHB, body)


def interface_description_block(
    linktype: int = LINKTYPE_ETHERNET, snaplen: int = 262_144, name: str = "", description: str = ""
) -> bytes:
    """Interface 0: its link type, and timestamps in microseconds (``if_tsresol`` 6)."""
    options = []
    if name:
        options.append((_IF_NAME, name.encode("utf-8", "replace")))
    if description:
        options.append((_IF_DESCRIPTION, description.encode("utf-8", "replace")))
    options.append((_IF_TSRESOL, bytes([6])))
    body = struct.pack("<HHI", linktype, 0, snaplen) + _options(options)
    return _block(_IDB, body)


def enhanced_packet_block(timestamp: float, packet: bytes, comment: str = "", interface: int = 0) -> bytes:
    """One packet seen at ``timestamp`` (seconds since the epoch), with an optional comment."""
    micros = max(0, round(timestamp * 1_000_000))
    options = [(_OPT_COMMENT, comment.encode("utf-8", "replace"))] if comment else []
    body = (
        struct.pack("<IIIII", interface, micros >> 32, micros & 0xFFFFFFFF, len(packet), len(packet))
        + _pad4(packet)
        + _options(options)
    )
    return _block(_EPB, body)


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``.

    The one's complement sum of 16-bit words is the number the bytes spell, modulo
    0xFFFF (2**16 is 1 modulo 0xFFFF), which Python's integers compute in C.
    """
    if len(data) % 2:
        data += b"\0"
    number = int.from_bytes(data, "big")
    total = number % 0xFFFF
    if total == 0 and number:
        total = 0xFFFF
    return ~total & 0xFFFF


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address (a scope is dropped, a v4-mapped IPv6 address is IPv4), or None."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TcpConversation:
    """The Ethernet frames of one synthesized TCP connection between a client and a server.

    Addresses that are not IP addresses (a Unix socket's, an empty one) become the
    documentation addresses 192.0.2.1 (client) and 192.0.2.2 (server); an IPv4 one
    facing an IPv6 one is written v4-mapped. ``substituted`` lists what was changed
    (the server's port included, see the module's docstring), for a comment.
    """

    def __init__(self, client: tuple[str, int], server: tuple[str, int]) -> None:
        self.substituted: list[str] = []
        client_ip = _address(client[0])
        server_ip = _address(server[0])
        if client_ip is None:
            self.substituted.append(f"client address {client[0]!r} written as 192.0.2.1")
            client_ip = ipaddress.IPv4Address("192.0.2.1")
        if server_ip is None:
            self.substituted.append(f"server address {server[0]!r} written as 192.0.2.2")
            server_ip = ipaddress.IPv4Address("192.0.2.2")
        if client_ip.version != server_ip.version:
            if isinstance(client_ip, ipaddress.IPv4Address):
                client_ip = ipaddress.IPv6Address("::ffff:" + str(client_ip))
            if isinstance(server_ip, ipaddress.IPv4Address):
                server_ip = ipaddress.IPv6Address("::ffff:" + str(server_ip))
        self.client_ip: ipaddress.IPv4Address | ipaddress.IPv6Address = client_ip
        self.server_ip: ipaddress.IPv4Address | ipaddress.IPv6Address = server_ip
        self.client_port = client[1] if 0 < client[1] < 65536 else 49152
        self.server_port = server[1] if server[1] in HTTP_PORTS else HTTP_PORT
        if self.client_port != client[1]:
            self.substituted.append(f"client port {client[1]} written as {self.client_port}")
        if self.server_port != server[1]:
            self.substituted.append(f"server port {server[1]} written as {self.server_port}")
        if self.client_port == self.server_port:  # one side's port would be taken for the other's
            self.client_port = 49152 if self.server_port != 49152 else 49153
            self.substituted.append(f"client port {client[1]} written as {self.client_port}")
        # Initial sequence numbers: fixed, so that two files of the same exchange compare equal.
        self._seq = {True: 0x10000000, False: 0x20000000}  # True: the client's side
        self._ip_id = {True: 1, False: 1}

    def _packet(self, from_client: bool, flags: int, payload: bytes = b"", options: bytes = b"") -> bytes:
        src, dst = (self.client_ip, self.server_ip) if from_client else (self.server_ip, self.client_ip)
        sport, dport = (self.client_port, self.server_port) if from_client else (self.server_port, self.client_port)
        seq = self._seq[from_client] & 0xFFFFFFFF
        ack = self._seq[not from_client] & 0xFFFFFFFF if flags & _ACK else 0
        header_length = 20 + len(options)
        tcp = (
            struct.pack("!HHIIBBHHH", sport, dport, seq, ack, header_length // 4 << 4, flags, 0xFFFF, 0, 0)
            + options
            + payload
        )
        proto_length = len(tcp)
        if isinstance(src, ipaddress.IPv4Address):
            pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 6, proto_length)
        else:
            pseudo = src.packed + dst.packed + struct.pack("!IxxxB", proto_length, 6)
        tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
        if isinstance(src, ipaddress.IPv4Address):
            ip_id = self._ip_id[from_client]
            self._ip_id[from_client] = (ip_id + 1) & 0xFFFF
            ip = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + proto_length, ip_id, 0x4000, 64, 6, 0, src.packed, dst.packed
            )
            ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
            ethertype = 0x0800
        else:
            ip = struct.pack("!IHBB", 0x60000000, proto_length, 6, 64) + src.packed + dst.packed
            ethertype = 0x86DD
        macs = _SERVER_MAC + _CLIENT_MAC if from_client else _CLIENT_MAC + _SERVER_MAC
        consumed = len(payload) + (1 if flags & (_SYN | _FIN) else 0)
        self._seq[from_client] += consumed
        return macs + struct.pack("!H", ethertype) + ip + tcp

    def open(self) -> list[bytes]:
        """SYN, SYN|ACK and ACK."""
        # MSS; NOP, window scale; NOP, NOP, SACK permitted.
        options = struct.pack("!BBH", 2, 4, MAX_SEGMENT) + bytes([1, 3, 3, WINDOW_SCALE, 1, 1, 4, 2])
        return [
            self._packet(True, _SYN, options=options),
            self._packet(False, _SYN | _ACK, options=options),
            self._packet(True, _ACK),
        ]

    def data(self, from_client: bool, payload: bytes) -> Iterator[bytes]:
        """``payload`` as PSH|ACK segments of at most ``MAX_SEGMENT`` bytes."""
        for start in range(0, len(payload), MAX_SEGMENT):
            yield self._packet(from_client, _PSH | _ACK, payload[start : start + MAX_SEGMENT])

    def close(self, client_first: bool = False) -> list[bytes]:
        """FIN|ACK from one side, FIN|ACK from the other, and the last ACK."""
        return [
            self._packet(client_first, _FIN | _ACK),
            self._packet(not client_first, _FIN | _ACK),
            self._packet(client_first, _ACK),
        ]
