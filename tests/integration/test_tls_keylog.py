"""WS_TLS_KEYLOG (``--tls-keylog``): a capture taken outside the server decrypts in Wireshark.

Each server writes its TLS secrets as NSS key-log lines (the appliance through mod_ssl's
SSLKEYLOGFILE, the standalone server through Python's ``keylog_filename``); ``tshark``
(Debian's, installed by ``make integration``) captures a wss echo on the loopback
interface, as tcpdump on the host would, and with the key log finds the WebSocket
frames and their payloads in it, in clear.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..servers import EXAMPLES, start_appliance, start_standalone
from .rawhttp import RawWebSocket

pytestmark = pytest.mark.integration

MESSAGE = "decrypted with the key log: 7f3a"


def _capture(port: int, pcap: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        ["tshark", "-q", "-i", "lo", "-f", f"tcp port {port}", "-w", str(pcap)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 15
    while not pcap.exists() or pcap.stat().st_size == 0:  # tshark writes the file's header once it captures
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"tshark did not start: {process.stderr.read() if process.stderr else ''}")
        time.sleep(0.1)
    return process


def _dissect(pcap: Path, port: int, keylog: Path | None) -> str:
    command = ["tshark", "-r", str(pcap), "-d", f"tcp.port=={port},tls", "-V", "-Y", "websocket"]
    if keylog is not None:
        command[3:3] = ["-o", f"tls.keylog_file:{keylog}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed: make tshark")
@pytest.mark.parametrize("kind", ["apache", "standalone"])
def test_a_host_side_wss_capture_decrypts_with_the_key_log(kind, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    if kind == "apache":
        env = {"WS_TLS_KEYLOG": "/keys/tls-keys.log"}
        server = start_appliance(EXAMPLES, tmp_path, env, host_network=True, mounts={str(keys): "/keys"})
    else:
        server = start_standalone(EXAMPLES, tmp_path, {"WS_TLS_KEYLOG": str(keys / "tls-keys.log")})
    pcap = tmp_path / "wss.pcapng"
    try:
        tshark = _capture(server.https_port, pcap)
        try:
            with server.open_socket("wss") as sock:
                ws = RawWebSocket(sock)
                assert ws.handshake("/echo").status == 101
                ws.send_frame(0x1, MESSAGE.encode())
                assert ws.read_frame() == (0x1, MESSAGE.encode())
                ws.send_frame(0x8, b"\x03\xe8")
                assert ws.read_frame() is not None
            time.sleep(1)  # the last segments into the capture
        finally:
            tshark.send_signal(signal.SIGINT)
            tshark.wait(15)
        keylog = keys / "tls-keys.log"
        assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keylog.read_text() or "CLIENT_RANDOM" in keylog.read_text()
        assert MESSAGE not in _dissect(pcap, server.https_port, None)  # without the keys: nothing
        clear = _dissect(pcap, server.https_port, keylog)
        assert "WebSocket" in clear and MESSAGE in clear, clear[-3000:]
        assert "key log on" in server.logs()
    finally:
        server.stop()
