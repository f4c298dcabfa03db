"""What only the standalone server has: its flags, config file, auth, aliases and Python embedding."""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
import sys
import time

import pytest
import requests
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from mod_pywebsocket import __version__

from ..servers import EXAMPLES, ROOT, make_certificate, make_test_pki, wait_for_port

pytestmark = pytest.mark.integration


class Process:
    """``python -m mod_pywebsocket.standalone ARGS`` on a free port, stopped with SIGTERM."""

    def __init__(self, tmp_path, *args: str) -> None:
        self.log = tmp_path / f"standalone-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mod_pywebsocket.standalone", "-H", "127.0.0.1", "-p", "0", *args],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.port = wait_for_port(self.process, self.log)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        assert self.process.wait(10) == 0

    def text(self) -> str:
        return self.log.read_text()


def test_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "mod_pywebsocket.standalone", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.stdout.strip() == f"mod_pywebsocket {__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "mod_pywebsocket.standalone", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    for flag in ("--websock-handlers", "--scan-dir", "--document-root", "--tls", "--basic-auth", "--config", "-q"):
        assert flag in out.stdout


def test_basic_auth(tmp_path):
    with Process(tmp_path, "-w", str(EXAMPLES), "-d", str(EXAMPLES), "--basic-auth",
                 "--basic-auth-credential", "alice:secret") as server:  # fmt: skip
        url = f"ws://127.0.0.1:{server.port}/echo"
        with pytest.raises(InvalidStatus) as info:
            connect(url)
        assert info.value.response.status_code == 401
        assert info.value.response.headers["WWW-Authenticate"] == 'Basic realm="Pywebsocket"'
        token = base64.b64encode(b"alice:secret").decode()
        with connect(url, additional_headers={"Authorization": f"Basic {token}"}) as ws:
            ws.send("authorised")
            assert ws.recv(timeout=10) == "authorised"
        page = requests.get(f"http://127.0.0.1:{server.port}/console.html", auth=("alice", "secret"), timeout=10)
        assert page.status_code == 200


def test_handler_map_file_and_config_file(tmp_path):
    aliases = tmp_path / "map.txt"
    aliases.write_text("# alias  existing\n/ /echo\n/talk /chat\n/bad /missing\n")
    config = tmp_path / "server.ini"
    config.write_text(
        f"[pywebsocket]\nwebsock_handlers = {EXAMPLES}\ndocument-root = {EXAMPLES}\n"
        f"websock-handlers-map-file = {aliases}\nlog_level = info\n"
    )
    with Process(tmp_path, "--config", str(config)) as server:
        with connect(f"ws://127.0.0.1:{server.port}/") as ws:
            ws.send("via the alias")
            assert ws.recv(timeout=10) == "via the alias"
        assert "no handler for '/missing'" in server.text()


def test_relative_handler_root_is_relative_to_the_document_root(tmp_path):
    with Process(tmp_path, "-d", str(ROOT), "-w", "handlers") as server:
        with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
            ws.send("relative")
            assert ws.recv(timeout=10) == "relative"


def test_bad_start_is_one_clear_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mod_pywebsocket.standalone", "-p", "0", "-w", str(tmp_path / "nowhere")],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "cannot start" in out.stderr and "nowhere" in out.stderr


def test_an_idle_tcp_client_does_not_block_wss(tmp_path):
    cert, key = make_certificate(tmp_path)
    with Process(tmp_path, "-w", str(EXAMPLES), "-t", "-k", str(key), "-c", str(cert)) as server:
        idle = socket.create_connection(("127.0.0.1", server.port))  # never starts TLS
        try:
            context = ssl.create_default_context(cafile=str(cert))
            started = time.monotonic()
            with connect(f"wss://127.0.0.1:{server.port}/echo", ssl=context, open_timeout=5) as ws:
                ws.send("not blocked")
                assert ws.recv(timeout=5) == "not blocked"
            assert time.monotonic() - started < 3
        finally:
            idle.close()


@pytest.mark.parametrize("optional", [False, True])
def test_tls_client_certificates(tmp_path, optional):
    pki = make_test_pki(tmp_path / "pki")
    client_cert, client_key = pki.issue_client_certificate(tmp_path / "client")
    flags = ["-w", str(EXAMPLES), "-t", "-k", pki.key, "-c", pki.cert, "--tls-client-auth", "--tls-client-ca", pki.ca]
    with Process(tmp_path, *flags, *(["--tls-client-cert-optional"] if optional else [])) as server:
        url = f"wss://127.0.0.1:{server.port}/echo"
        with_cert = ssl.create_default_context(cafile=pki.ca)
        with_cert.load_cert_chain(client_cert, client_key)
        with connect(url, ssl=with_cert) as ws:
            ws.send("with a client certificate")
            assert ws.recv(timeout=10) == "with a client certificate"
        without_cert = ssl.create_default_context(cafile=pki.ca)
        if optional:
            with connect(url, ssl=without_cert) as ws:
                ws.send("without one")
                assert ws.recv(timeout=10) == "without one"
        else:
            # TLS 1.3 finishes the client's side of the handshake first: the refusal shows up on use.
            with pytest.raises((ssl.SSLError, OSError, EOFError, WebSocketException)):
                with connect(url, ssl=without_cert, open_timeout=5) as ws:
                    ws.send("refused")
                    ws.recv(timeout=5)
