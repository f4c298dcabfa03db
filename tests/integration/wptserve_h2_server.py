"""wptserve's HTTP/2 server, started the way web-platform-tests' ``tools/serve`` starts it.

Run with the Python of a venv that has wptserve (PyPI) and either this package or
the real pywebsocket3 installed; ``test_wptserve.py`` does that. It prints
``port <n>`` once it listens and serves until it is terminated. Not a pytest module:
the main venv has no wptserve.

    python wptserve_h2_server.py CERT KEY HANDLER_ROOT
"""

from __future__ import annotations

import logging
import signal
import sys
import tempfile
import threading

from wptserve import server as wptserve  # imports pywebsocket3 before any handler is loaded, as WPT does


def main() -> None:
    cert, key, ws_root = sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    with tempfile.TemporaryDirectory() as doc_root:
        httpd = wptserve.WebTestHttpd(
            host="127.0.0.1",
            port=0,
            handler_cls=wptserve.Http2WebTestRequestHandler,
            doc_root=doc_root,
            ws_doc_root=ws_root,
            use_ssl=True,
            key_file=key,
            certificate=cert,
            encrypt_after_connect=False,
            http2=True,
        )
        import pywebsocket3  # which package serves the name, for the test's log

        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        httpd.start()
        print(f"pywebsocket3 is {pywebsocket3.__name__} from {pywebsocket3.__file__}", file=sys.stderr, flush=True)
        print(f"port {httpd.port}", flush=True)
        stopped.wait()
        httpd.stop()


if __name__ == "__main__":
    main()
