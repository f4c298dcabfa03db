"""What listens, and where: the same for both servers.

A ``Listener`` is one listening name (ws, wss or h3), its transport, its protocols and the
addresses its sockets are bound to: for the appliance, those of the sockets really
listening, from the kernel's tables (``bound_sockets``, ``/proc/net``); for the standalone
server, its own sockets'. Clients reach it at each bound address, a wildcard standing for
the host's (or container's) own addresses (``local_addresses``).

``document`` is what ``/mod_pywebsocket/ready`` answers once ready (JSON, the same shape
from both servers: the appliance's watcher writes it to ``$WS_RUN_DIR/ready``, the
standalone server builds it for its own sockets); ``summary`` is the addresses of the one
``ready:`` log line, ``ws://... (HTTP/1.1); ...``.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Readiness: 200 and the listeners (``document``) once every listener serves, else 503.
READY_PATH = "/mod_pywebsocket/ready"
#: The readiness probes' User-Agent, which the access logs leave out.
PROBE_AGENT = "mod_pywebsocket-healthcheck"


@dataclass(frozen=True)
class Listener:
    name: str  # ws, wss or h3
    transport: str  # tcp or udp
    protocols: tuple[str, ...]
    bound: tuple[tuple[str, int], ...]  # the sockets' own addresses (0.0.0.0 or :: for all)

    @property
    def scheme(self) -> str:
        return "https" if self.name == "h3" else self.name

    def addresses(self, local: Sequence[str]) -> list[str]:
        """Where clients reach it: each bound address, a wildcard as the ``local`` addresses."""
        out: list[str] = []
        for host, port in self.bound:
            if host == "0.0.0.0":
                hosts = [a for a in local if ":" not in a]
            elif host == "::":
                hosts = [a for a in local if ":" in a or _dual_stack()]
            else:
                hosts = [host]
            for address in hosts or [host]:
                text = host_port(address, port)
                if text not in out:
                    out.append(text)
        return out


def _dual_stack() -> bool:
    """Whether a socket bound to :: also takes IPv4 (Linux's default)."""
    try:
        with open("/proc/sys/net/ipv6/bindv6only", encoding="ascii") as f:
            return f.read().strip() == "0"
    except OSError:
        return True


def document(server: str, listeners: Sequence[Listener], local: Sequence[str], since: float) -> dict[str, Any]:
    """What ``/mod_pywebsocket/ready`` answers once ready (both servers, the same shape)."""
    return {
        "ready": True,
        "server": server,
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)),
        "listeners": [
            {
                "name": listener.name,
                "transport": listener.transport,
                "protocols": list(listener.protocols),
                "bound": [host_port(host, port) for host, port in listener.bound],
                "addresses": (addresses := listener.addresses(local)),
                "urls": [f"{listener.scheme}://{a}" for a in addresses],
            }
            for listener in listeners
        ],
    }


def summary(listeners: Sequence[Listener], local: Sequence[str]) -> str:
    """The ready line's addresses: ``ws://127.0.0.1:80 (HTTP/1.1); udp 127.0.0.1:443 (HTTP/3)``."""
    parts = []
    for listener in listeners:
        protocols = ", ".join(listener.protocols)
        addresses = listener.addresses(local)
        if listener.transport == "udp":
            parts.append(f"udp {' '.join(addresses)} ({protocols})")
        else:
            parts.append(f"{' '.join(f'{listener.scheme}://{a}' for a in addresses)} ({protocols})")
    return "; ".join(parts)


def host_port(host: str, port: int) -> str:
    """``host:port``, an IPv6 host in brackets (``[::1]:443``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _decode_proc_address(text: str) -> tuple[str, int]:
    """``0100007F:0050`` (or its 32-digit IPv6 form) from /proc/net/{tcp,udp}[6]."""
    hex_host, _, hex_port = text.partition(":")
    raw = bytes.fromhex(hex_host)
    # The kernel prints the address as 32-bit words in host order (little-endian here).
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(packed)), int(hex_port, 16)


def bound_sockets(port: int, transport: str, proc_net: str = "/proc/net") -> list[tuple[str, int]]:
    """The local addresses of the sockets listening on ``port`` (TCP in LISTEN, UDP bound
    and unconnected), from the kernel's tables; empty where there are none to read."""
    state = "0A" if transport == "tcp" else "07"
    found: list[tuple[str, int]] = []
    for table in (transport, transport + "6"):
        try:
            with open(os.path.join(proc_net, table), encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != state:
                continue
            try:
                address = _decode_proc_address(fields[1])
            except ValueError:
                continue
            if address[1] == port and fields[2].startswith(("00000000:0000", "0" * 32 + ":0000")):
                if address not in found:
                    found.append(address)
    return found


def local_addresses(proc: str = "/proc") -> list[str]:
    """This host's (or container's) own addresses: IPv4 from the kernel's routing trie
    (``/32 host LOCAL``), IPv6 but link-local from ``if_inet6``; loopback first."""
    addresses: list[str] = []
    try:
        with open(os.path.join(proc, "net", "fib_trie"), encoding="ascii") as f:
            current = ""
            for line in f:
                text = line.strip()
                if text.startswith("|-- "):
                    current = text[4:]
                elif text == "/32 host LOCAL" and current and current not in addresses:
                    addresses.append(current)
    except OSError:
        pass
    try:
        with open(os.path.join(proc, "net", "if_inet6"), encoding="ascii") as f:
            for line in f:
                fields = line.split()
                if not fields or len(fields[0]) != 32:
                    continue
                address = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
                if not address.is_link_local and str(address) not in addresses:
                    addresses.append(str(address))
    except (OSError, ValueError):
        pass
    loopback = [a for a in addresses if ipaddress.ip_address(a).is_loopback]
    return loopback + [a for a in addresses if a not in loopback]


def split_listen(listen: str) -> tuple[str, int]:
    """``WS_LISTEN_*`` (``443``, ``0.0.0.0:443``, ``[::1]:443``) as (host or "", port)."""
    host, _, port = listen.strip().rpartition(":")
    return host.strip("[]"), int(port)
