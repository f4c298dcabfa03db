"""Scale-out: docker-compose.yml's ``scale`` profile, three appliance replicas behind the
balancer role of the same image.

The profile comes up once for the module with the compose tool (``docker compose`` or
``docker-compose``), under a project name of its own, on free loopback ports, with
tests/integration/scale_handlers as the handler folder: its ``/whoami`` handler first sends
the replica's host name (its container's short id), then echoes. The tests check that
connections through the balancer are spread over the replicas over ws and wss, that the
loss of a replica costs only the connections it held, that an idle WebSocket is not cut
by the proxy, and that stopping the stack closes WebSockets with 1001.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect

from ..servers import CERT_IN_CONTAINER, IMAGE, ROOT, free_port

pytestmark = pytest.mark.integration

HANDLERS = Path(__file__).resolve().parent / "scale_handlers"
REPLICAS = ("replica1", "replica2", "replica3")
SERVICES = ("balancer", *REPLICAS)
# The replicas ping a client after WS_TIMEOUT quiet seconds; small, so that the idle test
# sees several such periods. The balancer's tunnels may idle 2 x WS_TIMEOUT + 10 s.
WS_TIMEOUT = 2
START_TIMEOUT = 60.0


def compose_tool() -> list[str]:
    """``docker compose`` where the plugin exists, else ``docker-compose``."""
    if shutil.which("docker"):
        found = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if found.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


@dataclass
class ScaleStack:
    """The running profile: its compose command line, ports, containers and certificate."""

    command: list[str]
    env: dict[str, str]
    project: str
    http_port: int
    https_port: int
    cafile: str = ""
    containers: dict[str, Container] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 120.0) -> str:
        result = subprocess.run(
            [*self.command, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result.stdout

    def find_containers(self) -> None:
        client = docker.from_env()
        found = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.project}"})
        self.containers = {c.labels["com.docker.compose.service"]: c for c in found}
        missing = set(SERVICES) - set(self.containers)
        if missing:
            raise RuntimeError(f"compose started no container for {sorted(missing)}")

    def replica_of(self, identity: str) -> str:
        """The service whose container has this host name."""
        for service, container in self.containers.items():
            if container.attrs["Config"]["Hostname"] == identity:
                return service
        raise AssertionError(f"{identity!r} is not a replica of this stack")

    def url(self, scheme: str) -> str:
        port = self.https_port if scheme == "wss" else self.http_port
        return f"{scheme}://127.0.0.1:{port}/whoami"

    def open(self, scheme: str = "ws") -> tuple[ClientConnection, str]:
        """A WebSocket through the balancer, and the replica it reached."""
        context = ssl.create_default_context(cafile=self.cafile) if scheme == "wss" else None
        ws = connect(self.url(scheme), ssl=context, open_timeout=10, close_timeout=5, ping_interval=None, legacy=True)
        try:
            return ws, self.replica_of(ws.recv(timeout=10))
        except BaseException:
            ws.close()
            raise

    def replica_for_one_connection(self, scheme: str = "ws") -> str:
        ws, replica = self.open(scheme)
        ws.close()
        return replica

    def logs(self) -> str:
        return "".join(
            f"--- {service}:\n{container.logs(tail=40).decode('utf-8', 'replace')}"
            for service, container in sorted(self.containers.items())
        )

    def wait_serving(self, timeout: float = START_TIMEOUT) -> None:
        """Until the balancer answers and every replica has served a connection through it."""
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while True:
            try:
                seen.add(self.replica_for_one_connection())
            except (OSError, TimeoutError, WebSocketException) as error:
                last_error = repr(error)  # not answering yet, or 503 while no replica is up
            else:
                last_error = ""
            if seen == set(REPLICAS):
                return
            for service, container in self.containers.items():
                container.reload()
                if container.status == "exited":
                    raise RuntimeError(f"{service} exited:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {sorted(seen)} served within {timeout}s ({last_error}):\n{self.logs()}")
            time.sleep(0.1 if last_error == "" else 0.3)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[ScaleStack]:
    project = f"mpws-scale-{uuid.uuid4().hex[:8]}"
    # Only what this test sets: no WS_* or COMPOSE_* of the caller's shell, no .env file.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WS_", "COMPOSE_"))}
    http_port, https_port = free_port(), free_port()
    env.update(
        WS_IMAGE=IMAGE,
        WS_HANDLERS=str(HANDLERS),
        WS_BIND="127.0.0.1",
        WS_SCALE_HTTP_PORT=str(http_port),
        WS_SCALE_HTTPS_PORT=str(https_port),
        # Not started (only the scale services are named), but never on the default ports.
        WS_HTTP_PORT=str(free_port()),
        WS_HTTPS_PORT=str(free_port()),
        WS_TIMEOUT=str(WS_TIMEOUT),
    )
    scratch = tmp_path_factory.mktemp("scale")
    no_env_file = scratch / "empty.env"  # in place of the checkout's .env, if it has one
    no_env_file.write_text("")
    command = [*compose_tool(), "--env-file", str(no_env_file), "-f", str(ROOT / "docker-compose.yml")]
    command += ["-p", project, "--profile", "scale"]
    stack = ScaleStack(command, env, project, http_port, https_port)
    try:
        stack.compose("up", "-d", *SERVICES)
        stack.find_containers()
        stack.wait_serving()
        exit_code, cert = stack.containers["balancer"].exec_run(["cat", CERT_IN_CONTAINER])
        assert exit_code == 0, cert.decode("utf-8", "replace")
        cafile = scratch / "balancer-cert.pem"
        cafile.write_bytes(cert)
        stack.cafile = str(cafile)
        yield stack
    finally:
        if stack.containers:  # kept for a look after a failure (pytest keeps the last runs' tmp)
            (scratch / "compose.log").write_text(stack.compose("logs", "--no-color", "-t"))
        stack.compose("down", "-v", "--remove-orphans", "-t", "10")


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_connections_are_spread_over_the_replicas(stack: ScaleStack, scheme: str) -> None:
    counts: collections.Counter[str] = collections.Counter()
    for i in range(30):
        ws, replica = stack.open(scheme)
        with ws:
            ws.send(f"text {i}")
            assert ws.recv(timeout=10) == f"text {i}"
            ws.send(bytes([i]) * 70000)  # many TCP segments through the tunnel
            assert ws.recv(timeout=10) == bytes([i]) * 70000
        counts[replica] += 1
    assert set(counts) == set(REPLICAS), counts
    assert max(counts.values()) <= 20, counts


def test_losing_a_replica_costs_only_its_connections(stack: ScaleStack) -> None:
    held: dict[str, ClientConnection] = {}
    try:
        for _ in range(30):  # byrequests takes turns, so three or four tries are enough
            ws, replica = stack.open()
            if replica in held:
                ws.close()
            else:
                held[replica] = ws
            if len(held) == len(REPLICAS):
                break
        assert set(held) == set(REPLICAS)

        stack.compose("kill", "replica2")
        with pytest.raises(ConnectionClosed):
            held["replica2"].recv(timeout=10)
        for replica in ("replica1", "replica3"):
            held[replica].send(f"{replica} still there")
            assert held[replica].recv(timeout=10) == f"{replica} still there"

        # No new connection fails: replica2's address drops them, and each that the
        # balancer sends there goes to another replica.
        landed = collections.Counter(stack.replica_for_one_connection() for _ in range(20))
        assert set(landed) == {"replica1", "replica3"}, landed
        for replica in ("replica1", "replica3"):
            held[replica].send("after 20 new connections")
            assert held[replica].recv(timeout=10) == "after 20 new connections"

        stack.compose("start", "replica2")
        deadline = time.monotonic() + 30  # the health check finds it within seconds
        while stack.replica_for_one_connection() != "replica2":
            assert time.monotonic() < deadline, f"replica2 got no connection again:\n{stack.logs()}"
            time.sleep(0.1)
    finally:
        for ws in held.values():
            ws.close()
        stack.compose("start", *REPLICAS)  # for the next tests, whatever failed here


def test_an_idle_websocket_outlives_the_timeouts(stack: ScaleStack) -> None:
    """Quiet for three WS_TIMEOUT periods: the replica's pings, answered by the client,
    cross the balancer, and its tunnel timeout is longer than those periods."""
    ws, replica = stack.open()
    with ws:
        time.sleep(3 * WS_TIMEOUT + 1)
        ws.send(f"still on {replica}")
        assert ws.recv(timeout=10) == f"still on {replica}"


def test_stopping_the_stack_closes_websockets_with_1001(stack: ScaleStack) -> None:
    """Replicas and balancer stop together: each replica's 1001 reaches its client
    through the balancer, which then has no tunnel left and exits 0 at once."""
    clients = [stack.open(scheme)[0] for scheme in ("ws", "wss", "ws")]
    try:
        stack.compose("stop", "-t", "15", *SERVICES)
        for ws in clients:
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=10)
            assert info.value.rcvd is not None, "no close frame: the connection was cut"
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "server shutting down")
        for service, container in stack.containers.items():
            container.reload()
            assert container.attrs["State"]["ExitCode"] == 0, f"{service}:\n{stack.logs()}"
        assert "stopped (Apache exit status 0)" in stack.containers["balancer"].logs().decode()
    finally:
        for ws in clients:
            ws.close()
        stack.compose("start", *SERVICES)
        stack.wait_serving()


def test_balancer_settings_are_checked() -> None:
    """A bad role or member list is the entrypoint's usual one-line error."""
    client = docker.from_env()
    for environment, message in [
        ({"WS_ROLE": "proxy"}, "WS_ROLE must be appliance or balancer, not 'proxy'"),
        ({"WS_ROLE": "balancer"}, "WS_ROLE=balancer needs WS_BALANCER_MEMBERS"),
        ({"WS_ROLE": "balancer", "WS_BALANCER_MEMBERS": "replica1:80,replica2"}, "'replica2' is not host:port"),
        ({"WS_ROLE": "balancer", "WS_BALANCER_MEMBERS": "a:80 b:80 a:80"}, "WS_BALANCER_MEMBERS lists a:80 twice"),
    ]:
        container = client.containers.run(
            IMAGE, detach=True, environment=environment, labels={"mod_pywebsocket.test": "1"}
        )
        try:
            assert container.wait(timeout=30)["StatusCode"] != 0
            logs = container.logs().decode("utf-8", "replace").strip().splitlines()
            assert len(logs) == 1 and message in logs[0], logs
        finally:
            container.remove(force=True)


def test_sigterm_stops_the_balancer_cleanly(stack: ScaleStack) -> None:
    """SIGTERM to the balancer alone: a graceful stop, exit status 0."""
    balancer = stack.containers["balancer"]
    try:
        balancer.kill(signal=signal.SIGTERM)
        assert balancer.wait(timeout=20)["StatusCode"] == 0
        assert "stopping: no new connections" in balancer.logs().decode()
    finally:
        stack.compose("start", "balancer")
        stack.wait_serving()
