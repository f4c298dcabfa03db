"""Run the real appliance image (Apache + mod_python) in Docker for tests.

Ports are published on 127.0.0.1 only, on ports Docker picks. The TLS
certificate the container generated is copied out and used to verify wss.
"""

from __future__ import annotations

import io
import os
import socket
import ssl
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("MPWS_IMAGE", "mod_pywebsocket:latest")
EXAMPLES = ROOT / "handlers"
TESTBED = ROOT / "tests" / "integration" / "handlers"
CERT_IN_CONTAINER = "/run/mod_pywebsocket/tls/cert.pem"


@dataclass
class Appliance:
    container: docker.models.containers.Container
    http_port: int
    https_port: int
    cafile: str

    def port(self, scheme: str) -> int:
        return self.https_port if scheme in ("wss", "https") else self.http_port

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port(scheme)}{path}"

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        return context

    def client_ssl(self, scheme: str) -> ssl.SSLContext | None:
        return self.ssl_context() if scheme in ("wss", "https") else None

    def logs(self) -> str:
        return self.container.logs().decode("utf-8", "replace")

    def open_socket(self, scheme: str, timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port(scheme)), timeout=timeout)
        if scheme in ("wss", "https"):
            sock = self.ssl_context().wrap_socket(sock, server_hostname="127.0.0.1")
        return sock


def _published_port(container, private: str) -> int:
    return int(container.attrs["NetworkSettings"]["Ports"][private][0]["HostPort"])


def start_appliance(handlers: Path, tmp_dir: Path, env: dict | None = None, timeout: float = 60.0) -> Appliance:
    client = docker.from_env()
    container = client.containers.run(
        IMAGE,
        detach=True,
        name=f"mpws-test-{uuid.uuid4().hex[:8]}",
        ports={"80/tcp": ("127.0.0.1", None), "443/tcp": ("127.0.0.1", None)},
        volumes={str(handlers): {"bind": "/srv/handlers", "mode": "ro"}},
        environment=env or {},
        labels={"mod_pywebsocket.test": "1"},
    )
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status == "exited":
            logs = container.logs().decode("utf-8", "replace")
            container.remove(force=True)
            raise RuntimeError(f"the appliance exited at start:\n{logs}")
        ports = container.attrs["NetworkSettings"]["Ports"] or {}
        if ports.get("80/tcp") and _is_serving(_published_port(container, "80/tcp")):
            break
        if time.monotonic() > deadline:
            logs = container.logs().decode("utf-8", "replace")
            container.remove(force=True)
            raise RuntimeError(f"the appliance did not answer within {timeout}s:\n{logs}")
        time.sleep(0.2)
    bits, _ = container.get_archive(CERT_IN_CONTAINER)
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as tar:
        cert = tar.extractfile(tar.getmembers()[0]).read()
    cafile = tmp_dir / f"{container.name}-cert.pem"
    cafile.write_bytes(cert)
    return Appliance(
        container, _published_port(container, "80/tcp"), _published_port(container, "443/tcp"), str(cafile)
    )


def _is_serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1")
    except OSError:
        return False
