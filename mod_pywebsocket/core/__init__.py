"""The protocol, with no I/O: frames, messages, the connection's state, permessage-deflate,
the opening handshake's rules and the header grammar.

Nothing here touches a socket, a thread or a clock; every rule of RFC 6455, RFC 7692
and RFC 8441 the server keeps is here, and the unit tests, property tests and
fuzzers drive these objects directly. Type-checked strictly (``make lint``).

``constants``  opcodes, close codes, header names      ``headers``     the header grammar
``frames``     frame parsing and building               ``messages``    frames to messages (events)
``connection`` ``ServerConnection``: state, both ways    ``deflate``     permessage-deflate
``handshake``  the opening handshake's checks           ``errors``      every exception
"""
