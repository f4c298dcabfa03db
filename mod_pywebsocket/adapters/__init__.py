"""The two servers: each turns its own connections into requests for ``runtime.flow`` and
its outcomes into its own kind of answer.

``apache``      mod_python's ``PythonHeaderParserHandler`` (Apache parses HTTP)
``standalone``  a socket server of its own (HTTP head parsing, worker threads, static files)
"""
