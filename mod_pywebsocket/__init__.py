"""mod_pywebsocket: a WebSocket (RFC 6455, RFC 7692) server for Apache + mod_python.

Handlers
--------
Resource ``/a/b`` is served by ``<handler_root>/a/b_wsh.py``, which defines::

    def web_socket_do_extra_handshake(request):
        # Optional. Inspect request.ws_origin, request.ws_requested_protocols,
        # request.headers_in ...; set request.ws_protocol to pick a subprotocol;
        # append (name, value) to request.extra_headers; raise to refuse (403).
        pass

    def web_socket_transfer_data(request):
        while True:
            message = request.ws_stream.receive_message()  # str, bytes, or None
            if message is None:
                return                                     # the client closed
            request.ws_stream.send_message(message, binary=isinstance(message, bytes))

    def web_socket_passive_closing_handshake(request):
        # Optional: the (code, reason) to answer the client's close with.
        return request.ws_close_code, request.ws_close_reason

The request
-----------
``ws_resource`` (path and query), ``ws_origin``, ``ws_version``, ``ws_protocol``,
``ws_requested_protocols``, ``ws_requested_extensions``, ``ws_extensions``,
``ws_extension_processors``, ``ws_close_code``, ``ws_close_reason``,
``ws_stream``, ``headers_in``, ``uri``, ``unparsed_uri``, ``method``,
``protocol``, ``connection`` (``read(n)``, ``write(bytes)``, ``remote_addr``),
``extra_headers``, ``is_https()``, ``server_terminated``, ``client_terminated``,
``on_ping_handler`` and ``on_pong_handler`` (optional callables
``f(request, payload)``). Under Apache, mod_python's request attributes are
reachable too.

``request.ws_stream``: ``receive_message()``, ``send_message(msg, end=True,
binary=False)``, ``send_ping(body)``, ``close_connection(code=1000, reason='')``,
``get_last_received_opcode()``. ``msgutil`` has the same as functions of the
request, plus ``MessageReceiver`` and ``MessageSender``.

Errors: a handler exception closes the connection with 1011; framing errors
with 1002, bad UTF-8 with 1007, oversized messages with 1009. Raising
``handshake.AbortedByUserException`` drops the connection silently.

Extensions: permessage-deflate offers appear in
``request.ws_extension_processors`` (``extensions.PerMessageDeflateExtensionProcessor``);
setting the list to ``[]`` in ``web_socket_do_extra_handshake`` refuses compression.

Modules: pywebsocket's names at the top level (``common``, ``msgutil``, ``stream``,
``util``, ``handshake``, ``handshake.base``, ``handshake.hybi``, ``dispatch``,
``extensions``, ``standalone``, ``headerparserhandler``, the mod_python entry point),
over three layers: ``core`` (the protocol with no I/O: frames, messages, the
connection's state, permessage-deflate, the handshake's rules), ``runtime`` (what
both servers share: the blocking stream, the handshaker, the dispatcher, the request
flow, settings) and ``adapters`` (``apache``, ``standalone``). See docs/architecture.md.
"""

__version__ = "0.2.0"
