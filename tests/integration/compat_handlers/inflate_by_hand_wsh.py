"""Reads frames itself and inflates permessage-deflate by hand (``util._Inflater``),
answering each message in text and the client's close through
``_process_close_message``: the pattern of browser vendors' deflate tests."""

from pywebsocket3 import common, util
from pywebsocket3.extensions import ExtensionProcessorInterface, PerMessageDeflateExtensionProcessor


def web_socket_do_extra_handshake(request):
    assert issubclass(PerMessageDeflateExtensionProcessor, ExtensionProcessorInterface)
    request.ws_extension_processors = [
        p for p in request.ws_extension_processors if isinstance(p, PerMessageDeflateExtensionProcessor)
    ]


def _read_message(stream):
    payload, compressed = b"", False
    while True:
        frame = stream._receive_frame_as_frame_object()
        if frame.opcode == common.OPCODE_CLOSE:
            stream._process_close_message(stream._get_message_from_frame(frame))
            return None
        compressed = compressed or bool(frame.rsv1)
        payload += frame.payload
        if frame.fin:
            return payload, compressed


def web_socket_transfer_data(request):
    inflater = util._Inflater(15)
    while True:
        got = _read_message(request.ws_stream)
        if got is None:
            return
        payload, compressed = got
        if compressed:
            inflater.append(payload + b"\x00\x00\xff\xff")
            payload = inflater.decompress(-1)
        request.ws_stream.send_message(f"{'deflated' if compressed else 'plain'}:{payload.decode('utf-8')}")
