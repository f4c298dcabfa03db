"""Readiness without the appliance: the watcher's states with fake probes and a temporary
run directory, the addresses read from /proc-like files, the probes' own wire formats, and
the standalone site's /mod_pywebsocket/ready."""

from __future__ import annotations

import argparse
import json
import socket
import threading

import hpack
import pytest

from mod_pywebsocket.adapters.apache import probes, readiness
from mod_pywebsocket.adapters.apache.readiness import (
    CONFIRM_AFTER,
    LOST_EVERY,
    PROGRESS_FIRST,
    RECHECK_EVERY,
    START_EVERY,
    Watcher,
)
from mod_pywebsocket.adapters.standalone.site import READY_PATH, Site
from mod_pywebsocket.runtime import listeners
from mod_pywebsocket.runtime.listeners import Listener

LISTENERS = [
    Listener("ws", "tcp", ("HTTP/1.1",), (("0.0.0.0", 80),)),
    Listener("wss", "tcp", ("HTTP/1.1", "HTTP/2"), (("0.0.0.0", 443),)),
    Listener("h3", "udp", ("HTTP/3",), (("0.0.0.0", 443),)),
]
LOCAL = ["127.0.0.1", "172.17.0.2"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Probes:
    """What each round of checks returns, in turn (the last one from then on)."""

    def __init__(self, *rounds: list[str]) -> None:
        self.rounds = list(rounds)
        self.calls = 0

    def __call__(self) -> list[str]:
        self.calls += 1
        return self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]


def _watcher(tmp_path, probes: Probes, clock: Clock, said: list[str]) -> Watcher:
    return Watcher(
        str(tmp_path), probes, lambda: (LISTENERS, LOCAL), clock=clock, wall_clock=lambda: 0.0, log=said.append
    )


def test_not_ready_until_every_probe_passes_then_one_ready_line(tmp_path):
    clock, said = Clock(), []
    h3_loading = ["HTTP/3 on udp 127.0.0.1:443: answers 503"]
    watcher = _watcher(tmp_path, Probes(h3_loading, h3_loading, h3_loading, []), clock, said)
    for _ in range(3):
        assert watcher.step() == START_EVERY
        clock.now += START_EVERY
    assert not (tmp_path / "ready").exists()
    assert (tmp_path / "not-ready").read_text() == "not ready: HTTP/3 on udp 127.0.0.1:443: answers 503\n"
    assert said == []  # a start this short says nothing until it is ready
    assert watcher.step() == RECHECK_EVERY
    body = json.loads((tmp_path / "ready").read_text())
    assert body["ready"] is True and body["server"] == "appliance"
    assert [(x["name"], x["urls"]) for x in body["listeners"]] == [
        ("ws", ["ws://127.0.0.1:80", "ws://172.17.0.2:80"]),
        ("wss", ["wss://127.0.0.1:443", "wss://172.17.0.2:443"]),
        ("h3", ["https://127.0.0.1:443", "https://172.17.0.2:443"]),
    ]
    assert said == [
        "ready: ws://127.0.0.1:80 ws://172.17.0.2:80 (HTTP/1.1); wss://127.0.0.1:443 wss://172.17.0.2:443 "
        "(HTTP/1.1, HTTP/2); udp 127.0.0.1:443 172.17.0.2:443 (HTTP/3)"
    ]
    for _ in range(5):  # still ready: checked every RECHECK_EVERY, nothing more said
        assert watcher.step() == RECHECK_EVERY
    assert len(said) == 1


def test_a_slow_start_says_why_at_doubling_intervals(tmp_path):
    clock, said = Clock(), []
    watcher = _watcher(tmp_path, Probes(["TLS on 127.0.0.1:443: connection refused"]), clock, said)
    times = []
    while clock.now < 1000 + 4 * PROGRESS_FIRST + 1:
        before = len(said)
        watcher.step()
        if len(said) > before:
            times.append(clock.now - 1000)
        clock.now += 0.5
    assert times == [PROGRESS_FIRST, 3 * PROGRESS_FIRST]  # 5 s in, then 10 s later
    assert set(said) == {"not ready yet: TLS on 127.0.0.1:443: connection refused"}


def test_one_failed_check_is_looked_at_again_two_remove_the_file_and_it_comes_back(tmp_path):
    clock, said = Clock(), []
    lost = ["HTTP/3 on udp 127.0.0.1:443: no QUIC handshake within 2s"]
    probes = Probes([], lost, [], lost, lost, lost, [])
    watcher = _watcher(tmp_path, probes, clock, said)
    assert watcher.step() == RECHECK_EVERY
    assert watcher.step() == CONFIRM_AFTER  # one failure: not yet
    assert (tmp_path / "ready").exists()
    assert watcher.step() == RECHECK_EVERY  # it passed again: nothing happened
    assert watcher.step() == CONFIRM_AFTER
    assert watcher.step() == LOST_EVERY  # failed twice in a row: not ready
    assert not (tmp_path / "ready").exists()
    assert (tmp_path / "not-ready").read_text() == f"not ready: {lost[0]}\n"
    assert said[-1] == f"not ready any more: {lost[0]}"
    assert watcher.step() == LOST_EVERY
    assert watcher.step() == RECHECK_EVERY  # back: the file and the ready line again
    assert (tmp_path / "ready").exists()
    assert len(said) == 3 and said[0] == said[2] and said[2].startswith("ready: ws://")


def test_a_stop_during_a_round_writes_nothing(tmp_path):
    said: list[str] = []
    watcher = _watcher(tmp_path, Probes([]), Clock(), said)
    watcher.check = lambda: watcher.stopping.set() or []  # SIGTERM while the probes ran
    watcher.step()
    assert not (tmp_path / "ready").exists() and said == []


def test_run_ends_when_told(tmp_path):
    watcher = _watcher(tmp_path, Probes(["not yet"]), Clock(), [])
    thread = threading.Thread(target=watcher.run)
    thread.start()
    watcher.stopping.set()
    thread.join(2)
    assert not thread.is_alive()


# -- the HTTP/3 check: the GET once per process, then the handshake; nothing once given up --


def test_h3_check_asks_each_new_process_for_the_page_once(tmp_path, monkeypatch):
    asked = []

    def fake(host, port, path, timeout):
        asked.append(path)
        return 200 if path else None

    monkeypatch.setattr(readiness, "h3_status", fake)  # where H3Check looks it up (from probes)
    check = readiness.H3Check("127.0.0.1", 443, str(tmp_path))
    (tmp_path / "h3.pid").write_text("41\n")
    check()
    check()
    (tmp_path / "h3.pid").write_text("42\n")  # restarted by the entrypoint
    check()
    check()
    assert asked == [probes.PROBE_PATH, None, probes.PROBE_PATH, None]
    (tmp_path / "h3-off").write_text("exit status 3\n")
    check()
    assert len(asked) == 4


def test_h3_check_fails_while_the_process_loads_its_handlers(tmp_path, monkeypatch):
    monkeypatch.setattr(readiness, "h3_status", lambda host, port, path, timeout: 503)
    check = readiness.H3Check("127.0.0.1", 443, str(tmp_path))
    with pytest.raises(probes.NotServing, match="answers 503"):
        check()
    assert check.served_by is None


@pytest.mark.parametrize(
    "changes, labels",
    [
        ({}, ["HTTP/1.1 on 127.0.0.1:80", "TLS on 127.0.0.1:443", "HTTP/2 on 127.0.0.1:443",
              "HTTP/3 on udp 127.0.0.1:443"]),
        ({"h3": False, "http2": False}, ["HTTP/1.1 on 127.0.0.1:80", "TLS on 127.0.0.1:443"]),
        ({"listen_http": "127.0.0.1:9080", "listen_https": "[::1]:9443", "listen_h3": "0.0.0.0:9443"},
         ["HTTP/1.1 on 127.0.0.1:9080", "TLS on [::1]:9443", "HTTP/2 on [::1]:9443", "HTTP/3 on udp 127.0.0.1:9443"]),
        ({"role": "balancer"}, ["HTTP/1.1 on 127.0.0.1:80", "TLS on 127.0.0.1:443"]),
    ],
)  # fmt: skip
def test_which_listeners_are_checked(tmp_path, changes, labels):
    values = {"listen_http": "80", "listen_https": "443", "listen_h3": "443", "http2": True, "h3": True,
              "role": "appliance"} | changes  # fmt: skip
    assert [c.label for c in readiness.appliance_checks(values, str(tmp_path))] == labels


# -- addresses: the sockets really listening, a wildcard as the host's own addresses --------

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:24E4 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0200110A:0050 0100110A:D3F2 01 00000000:00000000 00:00000000 00000000    33        0 3 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 00000000000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000
"""
UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:01BB 00000000:0000 07 00000000:00000000 00:00000000 00000000    33        0 4 2 0 0
  101: 0100007F:A1B2 0100007F:01BB 01 00000000:00000000 00:00000000 00000000     0        0 5 2 0 0
"""
FIB_TRIE = """\
Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 172.17.0.0/16 2 0 2
           |-- 172.17.0.0
              /16 link UNICAST
           |-- 172.17.0.2
              /32 host LOCAL
Local:
           |-- 172.17.0.2
              /32 host LOCAL
"""
IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
fe800000000000000042acfffe110002 2a 40 20 80     eth0
20010db8000000000000000000000002 2a 40 00 80     eth0
"""


def test_bound_sockets_and_local_addresses(tmp_path):
    net = tmp_path / "net"
    net.mkdir()
    (net / "tcp").write_text(TCP)
    (net / "tcp6").write_text(TCP6)
    (net / "udp").write_text(UDP)
    (net / "fib_trie").write_text(FIB_TRIE)
    (net / "if_inet6").write_text(IF_INET6)
    assert listeners.bound_sockets(80, "tcp", str(net)) == [("0.0.0.0", 80)]  # not the connection from :80
    assert listeners.bound_sockets(9444, "tcp", str(net)) == [("127.0.0.1", 9444)]
    assert listeners.bound_sockets(443, "tcp", str(net)) == [("::", 443), ("::1", 443)]
    assert listeners.bound_sockets(443, "udp", str(net)) == [("0.0.0.0", 443)]  # not the probe's own socket
    assert listeners.bound_sockets(8080, "tcp", str(net)) == []
    assert listeners.bound_sockets(80, "tcp", str(tmp_path / "nowhere")) == []
    assert listeners.local_addresses(str(tmp_path)) == ["127.0.0.1", "::1", "172.17.0.2", "2001:db8::2"]


def test_a_wildcard_is_every_local_address(monkeypatch):
    monkeypatch.setattr(listeners, "_dual_stack", lambda: False)
    local = ["127.0.0.1", "::1", "172.17.0.2"]
    assert Listener("ws", "tcp", (), (("0.0.0.0", 80),)).addresses(local) == ["127.0.0.1:80", "172.17.0.2:80"]
    assert Listener("ws", "tcp", (), (("::", 80),)).addresses(local) == ["[::1]:80"]
    assert Listener("ws", "tcp", (), (("127.0.0.1", 9080),)).addresses(local) == ["127.0.0.1:9080"]
    assert Listener("ws", "tcp", (), (("0.0.0.0", 80),)).addresses([]) == ["0.0.0.0:80"]
    monkeypatch.setattr(listeners, "_dual_stack", lambda: True)
    both = Listener("ws", "tcp", (), (("0.0.0.0", 80), ("::", 80)))
    assert both.addresses(local) == ["127.0.0.1:80", "172.17.0.2:80", "[::1]:80"]


def test_appliance_listeners_follow_the_settings_and_the_kernel(tmp_path):
    net = tmp_path / "net"
    net.mkdir()
    (net / "tcp").write_text(TCP)
    (net / "udp").write_text(UDP)
    values = {"listen_http": "80", "listen_https": "127.0.0.1:9444", "listen_h3": "443", "http2": True, "h3": True,
              "role": "appliance"}  # fmt: skip
    found = readiness.appliance_listeners(values, str(tmp_path), str(net))
    assert [(x.name, x.protocols, x.bound) for x in found] == [
        ("ws", ("HTTP/1.1",), (("0.0.0.0", 80),)),
        ("wss", ("HTTP/1.1", "HTTP/2"), (("127.0.0.1", 9444),)),
        ("h3", ("HTTP/3",), (("0.0.0.0", 443),)),
    ]
    (tmp_path / "h3-off").write_text("exit status 3\n")
    assert [x.name for x in readiness.appliance_listeners(values, str(tmp_path), str(net))] == ["ws", "wss"]


# -- the probes' wire formats ------------------------------------------------------------


def test_the_http2_request_is_valid_hpack():
    block = probes._h2_request("/mod_pywebsocket/spki", "127.0.0.1:443")
    assert hpack.Decoder().decode(block) == [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/mod_pywebsocket/spki"),
        (":authority", "127.0.0.1:443"),
        ("user-agent", "mod_pywebsocket-healthcheck"),
    ]


@pytest.mark.parametrize("status", [200, 404, 503, 421])
def test_the_http2_status_is_read_from_a_servers_header_block(status):
    block = hpack.Encoder().encode([(":status", str(status)), ("content-type", "text/plain")], huffman=False)
    assert probes._h2_status(block) == status
    huffman = hpack.Encoder().encode([(":status", str(status))], huffman=True)
    if huffman[0] == 0x88:  # 200: the static table's entry, however encoded
        assert probes._h2_status(huffman) == 200
    elif status != 404:  # 404 is in the static table too
        with pytest.raises(probes.NotServing, match="other than 200"):
            probes._h2_status(huffman)


def _serve_once(answer: bytes) -> tuple[int, threading.Thread]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                assert b"User-Agent: mod_pywebsocket-healthcheck\r\n" in request
                conn.sendall(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def test_http_probe_reads_the_status():
    port, thread = _serve_once(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    assert probes.http_status("127.0.0.1", port, "/mod_pywebsocket/spki", timeout=2) == 503
    thread.join(2)


def test_http_probe_failures_say_what_happened():
    port, thread = _serve_once(b"SSH-2.0-OpenSSH\r\n")
    with pytest.raises(probes.NotServing, match="not an HTTP/1.1 answer"):
        probes.http_status("127.0.0.1", port, "/", timeout=2)
    thread.join(2)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    failed = readiness.failures(
        [readiness.Check("HTTP/1.1 on here", lambda: probes.http_status("127.0.0.1", free, "/"))]
    )
    assert failed == ["HTTP/1.1 on here: connection refused"]


def test_a_probe_that_breaks_fails_its_check_and_nothing_else():
    checks = [readiness.Check("HTTP/3 on udp 127.0.0.1:443", lambda: 1 / 0), readiness.Check("TLS", lambda: None)]
    assert readiness.failures(checks) == [
        "HTTP/3 on udp 127.0.0.1:443: the probe failed (ZeroDivisionError: division by zero)"
    ]


# -- the standalone site's endpoint ----------------------------------------------------------


def test_the_standalone_sites_ready_endpoint(tmp_path):
    site = Site(argparse.Namespace(websock_handlers=str(tmp_path), document_root=str(tmp_path),
                                   client_conformance=False))  # fmt: skip
    assert site.plain_answer("GET", READY_PATH, {})[0] == 404  # off until a server turns it on
    site.not_ready = "starting"
    status, headers, body = site.plain_answer("GET", READY_PATH, {})
    assert status == 503 and body.decode().endswith("not ready: starting\n") and ("Retry-After", "1") in headers
    site.ready_document = b'{"ready": true}\n'
    assert site.plain_answer("GET", READY_PATH + "?x", {}) == (
        200,
        [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
        b'{"ready": true}\n',
    )
    assert site.plain_answer("POST", READY_PATH, {})[0] == 405
