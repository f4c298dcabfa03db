"""Run the servers under test: the appliance image (Apache + mod_python) in Docker,
or the standalone server as processes on this machine.

Both listen on 127.0.0.1 only, on ports the system picks, and offer the same
interface to tests (``url``, ``open_socket``, ``ssl_context``, ``logs``, ``stop``),
so one test module can run against either. Settings are given as the image's
``WS_*`` environment variables; for the standalone server they become flags.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker

from mod_pywebsocket.runtime.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("MPWS_IMAGE", "mod_pywebsocket:latest")
EXAMPLES = ROOT / "handlers"
TESTBED = ROOT / "tests" / "integration" / "handlers"
CERT_IN_CONTAINER = "/run/mod_pywebsocket/tls/cert.pem"


class Server:
    """What a test needs of a running server: ports, its certificate, its log."""

    kind = ""
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
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def open_socket(self, scheme: str, timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port(scheme)), timeout=timeout)
        if scheme in ("wss", "https"):
            sock = self.ssl_context().wrap_socket(sock, server_hostname="127.0.0.1")
        return sock


class Appliance(Server):
    kind = "apache"

    def __init__(self, container, http_port: int, https_port: int, cafile: str, h3_port: int | None = None) -> None:
        self.container = container
        self.http_port = http_port
        self.https_port = https_port
        self.h3_port = h3_port  # UDP, when the HTTP/3 listener is published
        self.cafile = cafile
        self._final_logs: str | None = None

    def memory(self) -> int:
        """Bytes the container uses, page cache excluded."""
        stats = self.container.stats(stream=False)["memory_stats"]
        return stats["usage"] - stats.get("stats", {}).get("cache", 0)

    def logs(self) -> str:
        if self._final_logs is not None:
            return self._final_logs
        return self.container.logs().decode("utf-8", "replace")

    def stop(self) -> None:
        """Remove the container, keeping its log for ``logs()``."""
        self._final_logs = self.logs()
        self.container.remove(force=True)


def process_rss(pid: int) -> int:
    """Resident memory of a process and its children, in bytes."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port() -> int:
    """A loopback UDP port nothing is bound to now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _published_port(container, private: str) -> int:
    return int(container.attrs["NetworkSettings"]["Ports"][private][0]["HostPort"])


def start_appliance(
    handlers: Path,
    tmp_dir: Path,
    env: dict | None = None,
    timeout: float = 60.0,
    certificate: Pki | None = None,
    host_network: bool = False,
    docker_options: dict | None = None,
    reports_dir: Path | None = None,
    mounts: dict[str, str] | None = None,
) -> Appliance:
    """Run the image; with ``certificate`` its cert.pem/key.pem are mounted, else it makes its own.

    ``host_network`` runs it on the host's network, listening on two free
    loopback ports, so that measurements see Apache and not Docker's port proxy.
    """
    volumes = {str(handlers): {"bind": "/srv/handlers", "mode": "ro"}}
    if certificate is not None:
        volumes[str(certificate.server_dir)] = {"bind": "/etc/mod_pywebsocket/tls", "mode": "ro"}
    if reports_dir is not None:  # the client-conformance reports, as compose mounts ./reports
        volumes[str(reports_dir)] = {"bind": "/srv/reports", "mode": "rw"}
    for host_path, container_path in (mounts or {}).items():  # more folders, read-write
        volumes[host_path] = {"bind": container_path, "mode": "rw"}
    env = dict(env or {})
    ports = {"80/tcp": ("127.0.0.1", None), "443/tcp": ("127.0.0.1", None), "443/udp": ("127.0.0.1", None)}
    options: dict = {"ports": ports}
    h3_port = None
    if host_network:
        host_ports = (free_port(), free_port())
        env["WS_LISTEN_HTTP"], env["WS_LISTEN_HTTPS"] = (f"127.0.0.1:{p}" for p in host_ports)
        h3_port = free_udp_port()
        env.setdefault("WS_LISTEN_H3", f"127.0.0.1:{h3_port}")
        options = {"network_mode": "host"}
    options.update(docker_options or {})
    client = docker.from_env()
    container = client.containers.run(
        IMAGE,
        detach=True,
        name=f"mpws-test-{uuid.uuid4().hex[:8]}",
        volumes=volumes,
        environment=env,
        labels={"mod_pywebsocket.test": "1"},
        **options,
    )
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status == "exited":
            logs = container.logs().decode("utf-8", "replace")
            container.remove(force=True)
            raise RuntimeError(f"the appliance exited at start:\n{logs}")
        if host_network:
            ports = host_ports if _is_serving(host_ports[0]) else None
        else:
            published = container.attrs["NetworkSettings"]["Ports"] or {}
            ports = None
            if published.get("80/tcp") and _is_serving(_published_port(container, "80/tcp")):
                ports = (_published_port(container, "80/tcp"), _published_port(container, "443/tcp"))
                if published.get("443/udp"):
                    h3_port = _published_port(container, "443/udp")
        if ports:
            break
        if time.monotonic() > deadline:
            logs = container.logs().decode("utf-8", "replace")
            container.remove(force=True)
            raise RuntimeError(f"the appliance did not answer within {timeout}s:\n{logs}")
        time.sleep(0.2)
    if certificate is not None:
        return Appliance(container, ports[0], ports[1], certificate.ca, h3_port)
    # Read through the container (not its filesystem layers): the run directory may be a tmpfs.
    exit_code, cert = container.exec_run(["cat", CERT_IN_CONTAINER])
    if exit_code != 0:
        raise RuntimeError(f"no certificate at {CERT_IN_CONTAINER}: {cert.decode('utf-8', 'replace')}")
    cafile = tmp_dir / f"{container.name}-cert.pem"
    cafile.write_bytes(cert)
    return Appliance(container, ports[0], ports[1], str(cafile), h3_port)


def _is_serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1")
    except OSError:
        return False


class Standalone(Server):
    """``python -m mod_pywebsocket.standalone``: one process for ws/http, one for wss/https."""

    kind = "standalone"

    def __init__(
        self, plain: subprocess.Popen, tls: subprocess.Popen, logs: list[Path], cafile: str, h3: bool = False
    ) -> None:
        self.processes = [plain, tls]
        self.log_files = logs
        self.cafile = cafile
        self.http_port = wait_for_port(plain, logs[0])
        self.https_port = wait_for_port(tls, logs[1])
        self.h3_port = wait_for_port(tls, logs[1], pattern=_LISTENING_H3) if h3 else None

    def logs(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.log_files)

    def memory(self) -> int:
        """Resident bytes of the ws/http process."""
        return process_rss(self.processes[0].pid)

    def stop(self, timeout: float = 10.0) -> list[int]:
        """SIGTERM both processes; return their exit codes."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes


_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
_LISTENING_H3 = re.compile(r"HTTP/3 on udp 127\.0\.0\.1:(\d+)")


def wait_for_port(process: subprocess.Popen, log: Path, timeout: float = 30.0, pattern=_LISTENING) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(log.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"the standalone server exited at start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the standalone server did not start within {timeout}s:\n{log.read_text(errors='replace')}")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: ECDSA P-256 for 2 days, the kind
    Chromium also takes over HTTP/3 (``--h3-port`` uses it too)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-sha256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


_FLAG_OF_ENV = {s.env: s.flag for s in SETTINGS if s.env and s.flag}


def standalone_flags(handlers: Path, env: dict[str, str]) -> list[str]:
    """The image's WS_* settings as standalone flags, handler paths moved from /srv/handlers."""
    flags = ["-H", "127.0.0.1", "-p", "0", "-w", str(handlers), "-d", str(handlers)]
    for name, value in env.items():
        if name == "WS_HANDLER_SCAN":
            flags += ["-s", value.replace("/srv/handlers", str(handlers), 1)]
        elif name == "WS_MAX_MESSAGE_SIZE":
            flags += ["--max-message-size", value]
        elif name == "WS_TIMEOUT":
            flags += ["--timeout", value]
        elif name == "WS_LOG_LEVEL":
            flags += ["--log-level", value]
        elif name == "WS_HEADER_TIMEOUT":
            flags += ["--header-timeout", value]
        elif name == "WS_HANDLER_RELOAD":
            flags += ["--reload" if value == "on" else "--no-reload"]
        elif name == "WS_ALLOWED_ORIGINS":
            flags += ["--allowed-origins", value]
        elif name == "WS_CLIENT_CONFORMANCE":
            flags += ["--client-conformance" if value == "on" else "--no-client-conformance"]
        elif name == "WS_REPORTS_DIR":
            flags += ["--reports-dir", value]
        elif name == "WS_COMPAT":
            flags += ["--compat", value]
        elif name == "WS_THREADS":  # a thread per connection in both servers
            flags += ["--max-connections", value]
        elif name == "WS_MAX_BUFFERED":
            flags += ["--max-buffered", value]
        elif name == "WS_SWITCH_INTERVAL":
            flags += ["--switch-interval", value]
        elif name == "WS_TLS_KEYLOG":
            flags += ["--tls-keylog", value]
        elif name in _FLAG_OF_ENV:  # the settings table's own spelling
            flags += [_FLAG_OF_ENV[name], value]
        else:
            raise ValueError(f"no standalone flag for {name}")
    return flags


def start_standalone(
    handlers: Path, tmp_dir: Path, env: dict | None = None, certificate: Pki | None = None, h3: bool = False
) -> Standalone:
    """Two processes, ws and wss; with ``h3`` the wss one serves HTTP/3 too (``--h3-port``)."""
    if certificate is not None:
        cert, key, cafile = certificate.cert, certificate.key, certificate.ca
    else:
        cert, key = make_certificate(tmp_dir)
        cafile = str(cert)
    flags = standalone_flags(handlers, env or {})
    if "WS_REPORTS_DIR" not in (env or {}):
        flags += ["--reports-dir", str(tmp_dir / "reports")]
    logs = [tmp_dir / "standalone-ws.log", tmp_dir / "standalone-wss.log"]
    processes = []
    for extra, log in (
        (["--log-level", "info"], logs[0]),
        (["--log-level", "info", "-t", "-k", str(key), "-c", str(cert), *(["--h3-port", "0"] if h3 else [])], logs[1]),
    ):
        with open(log, "wb") as out:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mod_pywebsocket.standalone", *extra, *flags],
                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
    return Standalone(processes[0], processes[1], logs, cafile, h3)


#: The reference: the real pywebsocket3 from PyPI, with its one dependency, pinned.
PYWEBSOCKET3 = ["pywebsocket3==4.0.2", "six==1.17.0"]


def make_pywebsocket3_venv(directory: Path) -> Path:
    """A throwaway venv with the real pywebsocket3 (never this package); returns its python."""
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", *PYWEBSOCKET3], check=True, capture_output=True, timeout=600)
    return python


class Pywebsocket3(Server):
    """The real pywebsocket3's standalone server (ws only), for side-by-side answers."""

    kind = "pywebsocket3"

    def __init__(self, python: Path, handlers: Path, tmp_dir: Path) -> None:
        self.http_port = self.https_port = free_port()
        self.cafile = ""
        self.log_file = tmp_dir / "pywebsocket3.log"
        with open(self.log_file, "wb") as out:
            self.process = subprocess.Popen(
                [python, "-m", "pywebsocket3.standalone", "-H", "127.0.0.1", "-p", str(self.http_port),
                 "-w", str(handlers), "-d", str(handlers), "--log-level", "info"],
                cwd=tmp_dir, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while not _accepts(self.http_port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pywebsocket3 did not start:\n{self.logs()}")
            time.sleep(0.05)

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def start_server(
    kind: str,
    handlers: Path,
    tmp_dir: Path,
    env: dict | None = None,
    certificate: Pki | None = None,
    host_network: bool = False,
    h3: bool = False,
) -> Server:
    """Start the ``apache`` appliance or the ``standalone`` server with the same handlers and settings
    (``h3``: the standalone one serves HTTP/3 too; the appliance always does, WS_H3 being on)."""
    if kind == "apache":
        return start_appliance(handlers, tmp_dir, env, certificate=certificate, host_network=host_network)
    return start_standalone(handlers, tmp_dir, env, certificate=certificate, h3=h3)


@dataclass
class Pki:
    """A CA made for one test run, and a server certificate it signed (for 127.0.0.1 and localhost)."""

    ca: str
    cert: str
    key: str
    server_dir: Path  # holds cert.pem and key.pem, as the image expects them
    spki_sha256: str  # base64 SHA-256 of the server key, for Chromium's --ignore-certificate-errors-spki-list
    ca_key: str = ""

    def issue_client_certificate(self, directory: Path) -> tuple[str, str]:
        """A client certificate from the same CA (for --tls-client-auth); returns (cert, key)."""
        return _issue(Path(self.ca), Path(self.ca_key), "/CN=test client", "extendedKeyUsage=clientAuth\n", directory)


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def _issue(
    ca: Path, ca_key: Path, subject: str, extensions: str, directory: Path, key_type: str = "rsa:2048"
) -> tuple[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, csr, ext = (directory / name for name in ("cert.pem", "key.pem", "req.csr", "ext.cnf"))
    key_options = (
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if key_type == "ec" else ["-newkey", key_type]
    )
    _openssl("req", *key_options, "-sha256", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(csr))
    ext.write_text("basicConstraints=critical,CA:FALSE\n" + extensions)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-sha256", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    key.chmod(0o644)  # read by the image's entrypoint; the test folder itself is private
    return str(cert), str(key)


def make_test_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca-key.pem", directory / "ca.pem"
    ca_extensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "2", *ca_extensions,
             "-subj", "/CN=mod_pywebsocket test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    server_extensions = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    server_dir = directory / "server"
    # ECDSA P-256 for 2 days: also the kind Chromium takes over HTTP/3 (docs/operations.md).
    cert, key = _issue(ca, ca_key, "/CN=localhost", server_extensions, server_dir, key_type="ec")
    public_der = _openssl("pkey", "-in", key, "-pubout", "-outform", "DER")
    spki = base64.b64encode(hashlib.sha256(public_der).digest()).decode()
    return Pki(str(ca), cert, key, server_dir, spki, str(ca_key))
