"""What both servers share around the core: the blocking stream handlers use, the
handshake flow, the dispatcher and handler files, the request, the session flow and
registry, the settings, and the ``pywebsocket3`` import name.

``blocking_stream``  ``request.ws_stream``: locks, reads and writes around the core
``stream_options``   ``StreamOptions``: a stream's limits and the server's policy
``handshaker``       ``HandshakerBase`` and RFC 6455's ``Handshaker``
``dispatcher``       resources to handler suites (and their hooks, for pywebsocket3's calls)
``suite_hooks``      one suite's hooks, run with pywebsocket's contract
``handler_files``    finding, loading and reloading ``*_wsh.py`` files
``request``          the request object handlers receive
``interfaces``       the Protocols where the layers meet (connection, request, stream)
``legacy_attributes``  pywebsocket3's private request attributes, read and written there only
``flow``             one upgrade request from lookup to close: the outcome an adapter answers
``registry``         the open sessions, closed with 1001 at shutdown
``settings``         every setting's default, parser and check
``aliases``          ``import pywebsocket3``
``log_levels``       log-level names
``log_format``       text or JSON lines, the connection's id on each
``connection_summary``  a connection in one line: the info line's fields, the handler's error
``capture``, ``pcapng``, ``capture_flow``  WS_CAPTURE: a pcapng file per connection
``connections_page``, ``report_html``  ``/connections/``, and the reports' HTML
``listeners``        what listens where: the ready line and ``/mod_pywebsocket/ready``
"""
