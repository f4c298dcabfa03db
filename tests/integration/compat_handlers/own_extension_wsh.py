"""Installs an extension processor of its own (``x-upper``, offered by the client): its
message filters upper-case what arrives and tag what leaves."""

from pywebsocket3 import common
from pywebsocket3.extensions import ExtensionProcessorInterface


class _Upper:
    def filter(self, message):
        return message.upper()


class _Tag:
    def filter(self, message, end=True, binary=False):
        return b"x-upper:" + message


class UpperProcessor(ExtensionProcessorInterface):
    def name(self):
        return "x-upper"

    def _get_extension_response_internal(self):
        return common.ExtensionParameter("x-upper")

    def _setup_stream_options_internal(self, stream_options):
        stream_options.incoming_message_filters.append(_Upper())
        stream_options.outgoing_message_filters.append(_Tag())


def web_socket_do_extra_handshake(request):
    offers = request.ws_requested_extensions or []
    request.ws_extension_processors = [UpperProcessor(o) for o in offers if o.name() == "x-upper"]


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(message.encode("utf-8"), binary=True)
