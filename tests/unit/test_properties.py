"""Property-based tests (hypothesis) of the parts that see a client's bytes first.

Whatever arrives, in whatever pieces, the frame parser, the message assembler,
the HTTP head parser and the handshake validator either succeed or raise their
one documented error, with the right close code or HTTP status.
"""

from __future__ import annotations

import zlib

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mod_pywebsocket import common
from mod_pywebsocket.adapters.standalone.http_head import Headers, HttpError, parse_request_head, read_request_head
from mod_pywebsocket.core.connection import ServerConnection, State
from mod_pywebsocket.core.errors import HandshakeException, ProtocolError
from mod_pywebsocket.core.frames import apply_mask, apply_mask_python, build_frame
from mod_pywebsocket.core.messages import Close, Control, Message
from mod_pywebsocket.extensions import PerMessageDeflate
from mod_pywebsocket.handshake.base import parse_client_handshake

settings.register_profile("default", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")

FRAME_CODES = {common.STATUS_PROTOCOL_ERROR, common.STATUS_MESSAGE_TOO_BIG}
MESSAGE_CODES = FRAME_CODES | {common.STATUS_INVALID_FRAME_PAYLOAD_DATA}


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at the given positions (taken modulo its length); at least one piece."""
    if not data:
        return [data]
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def run_pipeline(chunks: list[bytes], max_size: int = 1 << 16, deflate: bool = False) -> list:
    """Feed chunks to the production connection core, as the stream does; return the events."""
    core = ServerConnection(max_message_size=max_size, deflate=PerMessageDeflate() if deflate else None)
    events = []
    for chunk in chunks:
        core.receive_data(chunk)
        while (event := core.next_event()) is not None:
            events.append(event)
            if isinstance(event, Close):
                assert core.state is State.CLOSING
                return events
    return events


@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=8), st.booleans())
def test_random_bytes_give_events_or_a_protocol_error(data, cuts, deflate):
    try:
        events = run_pipeline(chunked(data, cuts), max_size=256, deflate=deflate)
    except ProtocolError as e:
        assert e.code in MESSAGE_CODES
        return
    for event in events:
        assert isinstance(event, Message | Control | Close)


frames = st.tuples(
    st.sampled_from([common.OPCODE_TEXT, common.OPCODE_BINARY]),
    st.binary(max_size=300),
)


@given(st.lists(frames, min_size=1, max_size=5), st.lists(st.integers(0, 2000), max_size=10))
def test_messages_survive_any_split_of_the_byte_stream(messages, cuts):
    wire = b""
    expected = []
    for opcode, payload in messages:
        if opcode == common.OPCODE_TEXT:
            payload = payload.decode("latin-1").encode("utf-8")  # valid UTF-8
            expected.append(payload.decode("utf-8"))
        else:
            expected.append(payload)
        wire += build_frame(opcode, payload, mask=True)
    events = run_pipeline(chunked(wire, cuts), max_size=1 << 20)
    assert [e.data for e in events] == expected


@given(st.text(max_size=200), st.lists(st.integers(0, 800), max_size=6), st.integers(0, 3))
def test_text_fragmented_anywhere_reassembles(text, cuts, pings):
    payload = text.encode("utf-8")
    pieces = chunked(payload, cuts)
    wire = b""
    for i, piece in enumerate(pieces):
        opcode = common.OPCODE_TEXT if i == 0 else common.OPCODE_CONTINUATION
        wire += build_frame(opcode, piece, fin=i == len(pieces) - 1, mask=True)
        if i < pings:
            wire += build_frame(common.OPCODE_PING, b"x", mask=True)  # control frames may interleave
    events = run_pipeline([wire])
    assert [e.data for e in events if isinstance(e, Message)] == [text]


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=5))
def test_invalid_utf8_is_1007_however_it_is_fragmented(payload, cuts):
    try:
        valid = payload.decode("utf-8")
    except UnicodeDecodeError:
        valid = None
    pieces = chunked(payload, cuts)
    last = len(pieces) - 1
    wire = b"".join(
        build_frame(common.OPCODE_CONTINUATION if i else common.OPCODE_TEXT, p, fin=i == last, mask=True)
        for i, p in enumerate(pieces)
    )
    try:
        events = run_pipeline([wire])
    except ProtocolError as e:
        assert valid is None and e.code == common.STATUS_INVALID_FRAME_PAYLOAD_DATA
        return
    assert valid is not None and [e.data for e in events] == [valid]


@given(st.binary(max_size=125))
def test_close_bodies_are_accepted_or_refused_with_the_right_code(body):
    try:
        events = run_pipeline([build_frame(common.OPCODE_CLOSE, body, mask=True)])
    except ProtocolError as e:
        assert e.code in (common.STATUS_PROTOCOL_ERROR, common.STATUS_INVALID_FRAME_PAYLOAD_DATA)
        return
    (close,) = events
    assert close.code == (int.from_bytes(body[:2], "big") if body else common.STATUS_NO_STATUS_RECEIVED)


@given(st.binary(max_size=3000), st.binary(min_size=4, max_size=4))
def test_c_and_python_masking_agree_and_invert(data, key):
    masked = apply_mask(data, key)
    assert masked == apply_mask_python(data, key)
    assert apply_mask(masked, key) == data


@given(st.binary(max_size=5000), st.booleans())
def test_deflate_round_trip(data, final):
    sender, receiver = PerMessageDeflate(), PerMessageDeflate()
    compressed = sender.compress(data, True)
    assert receiver.decompress(compressed, True, None) == data


@given(st.binary(max_size=400), st.integers(1, 4096))
def test_inflating_garbage_is_a_protocol_error_or_bytes_within_the_limit(data, limit):
    codec = PerMessageDeflate()
    try:
        out = codec.decompress(data, True, limit)
    except ProtocolError as e:
        assert e.code in MESSAGE_CODES
        return
    except zlib.error:  # pragma: no cover - must not escape
        raise AssertionError("zlib.error escaped") from None
    assert len(out) <= limit


@given(st.binary(max_size=2000), st.lists(st.integers(1, 64), min_size=1, max_size=50))
def test_http_head_reader_never_fails_otherwise(data, sizes):
    pieces = iter(chunked(data, [sum(sizes[: i + 1]) for i in range(len(sizes))]))

    def recv(_n: int) -> bytes:
        return next(pieces, b"")

    try:
        head, rest = read_request_head(recv)
    except HttpError as e:
        assert e.status in (400, 414, 431)
        return
    except ConnectionError:
        assert not data.strip()
        return
    assert head.method and head.target and head.version


header_text = st.text(st.characters(codec="latin-1"), max_size=60)


@given(
    st.sampled_from(["GET", "POST", "get"]),
    st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0"]),
    st.dictionaries(
        st.sampled_from(
            [
                "Host",
                "Upgrade",
                "Connection",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Extensions",
                "Origin",
            ]
        ),
        header_text,
    ),
)
def test_handshake_validation_raises_only_handshake_errors(method, protocol, fields):
    headers = Headers(list(fields.items()))
    try:
        handshake = parse_client_handshake(method, protocol, headers)
    except HandshakeException as e:
        assert e.status in (None, 400, 426)
        return
    assert method == "GET" and protocol == "HTTP/1.1"
    assert len(handshake.key) == 24


@given(st.text(st.characters(codec="latin-1"), max_size=300))
def test_request_head_parser_on_text(text):
    assume("\r\n" not in text[:1])
    try:
        parse_request_head(text.encode("latin-1"))
    except HttpError as e:
        assert e.status in (400, 414, 431)


@given(st.text(max_size=120))
def test_extension_and_token_parsers_raise_their_own_errors(text):
    try:
        common.parse_extensions(text)
    except common.ExtensionParsingException:
        pass
    try:
        common.parse_token_list(text)
    except ValueError:
        pass
