"""Real network namespaces, bridges and veths for the end-to-end tests (pytest fixtures).

Rules of this file:

* Everything it creates carries one of our prefixes and this run's tag (namespaces
  ``cnt-<tag><serial>``, bridges ``cnb<tag><serial>``, veths ``cnv<tag><serial>``) and is
  removed by the fixture that made it, in a ``finally``, whether the test passed or not.
  Container IDs and network names come from :func:`unique_id`, also tagged, so that two runs
  sharing a machine never mistake each other's things for their own.
* :func:`netns_session` is the session's guard: it fails the run, with a clear message, when
  it is not root or the Debian plugins are missing (CI installs them; nothing is skipped),
  and at the end it checks that the run left nothing behind (namespaces, links with our
  prefixes, bandwidth ``bwp*`` devices, per-container iptables chains, host-local
  reservations left in a test's ``dataDir``), removes what it finds, and fails if it found
  anything the tests themselves should have cleaned.
* Traffic only flows between namespaces the tests made: the TCP echo helper refuses any
  address that is not inside one of our namespaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import itertools
import json
import os
import secrets
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

__all__ = [
    "CNI_BIN",
    "NETNS_PREFIX",
    "BRIDGE_PREFIX",
    "VETH_PREFIX",
    "REQUIRED_PLUGINS",
    "Netns",
    "sh",
    "SESSION",
    "unique_name",
    "unique_id",
    "remember_id",
    "netns_exists",
    "host_links",
    "link_exists",
    "nat_rules",
    "nat_chains",
    "ipam_reservations",
    "require_environment",
    "tcp_echo",
    "Snapshot",
    "snapshot",
    "leftovers",
    "netns_session",
    "make_netns",
    "make_bridge_name",
    "make_veth",
    "make_subnet",
    "scratch_dir",
]

#: Where Debian's containernetworking-plugins live.
CNI_BIN: Final = "/usr/lib/cni"
NETNS_PREFIX: Final = "cnt-"
BRIDGE_PREFIX: Final = "cnb"
VETH_PREFIX: Final = "cnv"
#: The bandwidth plugin's ifb devices are ``bwp`` + a hash of the container ID.
_BANDWIDTH_PREFIX: Final = "bwp"
#: The plugins the end-to-end tests run.
REQUIRED_PLUGINS: Final = ("bridge", "host-local", "tuning", "portmap", "bandwidth", "ptp",
                           "macvlan", "loopback")
# Our subnets come from here, one /24 per request, never the host's own networks.
_POOL: Final = ipaddress.IPv4Network("10.213.0.0/16")


def sh(
    *cmd: str, check: bool = True, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output.

    Raises:
        AssertionError: with the command's output, when ``check`` and it fails.
    """
    done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                          input=stdin, check=False)
    if check and done.returncode != 0:
        msg = (f"command {' '.join(cmd)!r} failed with {done.returncode}:\n"
               f"{done.stdout}{done.stderr}")
        raise AssertionError(msg)
    return done


#: This run's tag, in every name it makes, so that runs sharing a machine never touch each
#: other's namespaces, links or chains.
SESSION: Final = secrets.token_hex(2)
_serial = itertools.count()
# Every network name and container ID of this run: portmap's chains and bandwidth's ifb
# devices are named after a hash of the pair, so this is how the guard recognises them.
_IDS: set[str] = set()


def unique_name(prefix: str) -> str:
    """A name for a namespace, bridge or veth: ``prefix`` + this run's tag + a serial.

    Bridges and veths stay within 15 bytes (IFNAMSIZ), with room for a veth peer's ``p``.
    """
    n = next(_serial)
    name = f"{prefix}{SESSION}{n:04x}" if prefix == NETNS_PREFIX else f"{prefix}{SESSION}{n:03x}"
    assert prefix == NETNS_PREFIX or len(name) <= 14, name
    return name


def unique_id(prefix: str = "c") -> str:
    """A container ID or network name nobody else uses (tagged with this run)."""
    value = f"{prefix}-{SESSION}-{next(_serial):x}{secrets.token_hex(2)}"
    _IDS.add(value)
    return value


def remember_id(value: str) -> str:
    """Count a fixed container ID or network name (one a tool chose) as this run's."""
    _IDS.add(value)
    return value


def _pair_hashes() -> set[str]:
    # pkg/utils MustFormatHashWithPrefix: hex(sha512(network name + container ID)).
    return {hashlib.sha512((a + b).encode()).hexdigest() for a in _IDS for b in _IDS if a != b}


@attrs.frozen
class Netns:
    """A network namespace made by a test (``/run/netns/<name>``)."""

    name: str

    @property
    def path(self) -> str:
        """The path runtimes pass as ``CNI_NETNS``."""
        return f"/run/netns/{self.name}"

    def run(
        self, *cmd: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (``ip netns exec``)."""
        return sh("ip", "netns", "exec", self.name, *cmd, check=check, timeout=timeout)

    def links(self) -> dict[str, dict[str, Any]]:
        """The namespace's links by name (``ip -j link``)."""
        out = self.run("ip", "-j", "-d", "link", "show").stdout
        return {link["ifname"]: link for link in json.loads(out)}

    def addresses(self, ifname: str, family: str = "inet") -> list[str]:
        """The ``address/prefix`` strings of one interface, for one family."""
        out = self.run("ip", "-j", "addr", "show", "dev", ifname).stdout
        return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(out)
                for a in link.get("addr_info", []) if a.get("family") == family]

    def routes(self) -> list[dict[str, Any]]:
        """The namespace's IPv4 routes (``ip -j route``)."""
        return list(json.loads(self.run("ip", "-j", "-4", "route", "show").stdout))


def netns_exists(name: str) -> bool:
    """Whether ``/run/netns/<name>`` exists."""
    return os.path.exists(f"/run/netns/{name}")


def host_links() -> dict[str, dict[str, Any]]:
    """The host's links by name, with details (master, kind)."""
    out = sh("ip", "-j", "-d", "link", "show").stdout
    return {link["ifname"]: link for link in json.loads(out)}


def link_exists(name: str) -> bool:
    """Whether the host has a link of that name."""
    return sh("ip", "link", "show", "dev", name, check=False).returncode == 0


def nat_rules(tool: str = "iptables") -> list[str]:
    """The ``-S`` listing of the nat table (``iptables`` or ``ip6tables``)."""
    done = sh(tool, "-w", "-t", "nat", "-S", check=False)
    return done.stdout.splitlines() if done.returncode == 0 else []


def nat_chains(tool: str = "iptables") -> set[str]:
    """The user chains of the nat table whose names start with ``CNI-``."""
    return {line.split()[1] for line in nat_rules(tool)
            if line.startswith("-N CNI-")}


def ipam_reservations(data_dir: Path) -> list[str]:
    """The addresses host-local holds under ``data_dir`` (files named after an address)."""
    found: list[str] = []
    if not data_dir.exists():
        return found
    for path in data_dir.rglob("*"):
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(path.name)
            found.append(path.name)
    return sorted(found)


def require_environment() -> None:
    """Fail (never skip) unless this is root with ``ip`` and the Debian plugins installed."""
    problems: list[str] = []
    if os.geteuid() != 0:
        problems.append("the netns tests must run as root (they create namespaces and links)")
    for tool in ("ip", "iptables", "ip6tables", "tc"):
        if shutil.which(tool) is None:
            problems.append(f"{tool!r} is not installed (Debian: iproute2, iptables)")
    missing = [p for p in REQUIRED_PLUGINS if not os.access(f"{CNI_BIN}/{p}", os.X_OK)]
    if missing:
        problems.append(f"CNI plugins missing from {CNI_BIN}: {', '.join(missing)} "
                        "(Debian: apt-get install containernetworking-plugins)")
    if problems:
        pytest.fail("netns tests cannot run:\n  " + "\n  ".join(problems), pytrace=False)


# --- the TCP echo -------------------------------------------------------------------------

_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(float(sys.argv[3]))
print("ready", flush=True)
conn, peer = s.accept()
conn.settimeout(float(sys.argv[3]))
data = b""
while chunk := conn.recv(65536):
    data += chunk
conn.sendall(data)
conn.close()
print(peer[0], flush=True)
"""

_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
c.sendall(sys.argv[4].encode())
c.shutdown(socket.SHUT_WR)
data = b""
while chunk := c.recv(65536):
    data += chunk
sys.stdout.write(data.decode())
"""


def _ours(ns: Netns, address: str) -> bool:
    addr = ipaddress.ip_address(address)
    out = ns.run("ip", "-j", "addr", "show").stdout
    for link in json.loads(out):
        for info in link.get("addr_info", []):
            if ipaddress.ip_address(info["local"]) == addr:
                return True
    return False


def tcp_echo(
    server: Netns,
    address: str,
    client: Netns,
    *,
    port: int = 7777,
    payload: str = "hello from cnilib",
    connect_to: str | None = None,
    timeout: float = 10,
) -> tuple[str, str]:
    """Send ``payload`` from ``client`` to a TCP echo server in ``server`` and read it back.

    Args:
        server: The namespace the server listens in.
        address: The address it binds; it must belong to ``server``.
        client: The namespace the client connects from.
        port: The server's port.
        payload: What is sent.
        connect_to: ``host:port`` the client dials instead of ``address:port`` (a port
            mapping); the host must be an address of one of our namespaces or bridges.
        timeout: Seconds for each step.

    Returns:
        ``(echoed payload, the peer address the server saw)``.

    Raises:
        AssertionError: the address is not ours, or the exchange failed.
    """
    assert _ours(server, address), f"{address} is not an address inside {server.name}"
    host, dial_port = address, port
    if connect_to is not None:
        host, _, text_port = connect_to.rpartition(":")
        dial_port = int(text_port)
        assert _ours(server, host) or _ours(client, host) or _on_our_bridge(host), (
            f"{host} is neither in our namespaces nor on one of our bridges")
    cmd = ["ip", "netns", "exec", server.name, sys.executable, "-c", _SERVER, address,
           str(port), str(timeout)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout is not None
            readable, _, _ = select.select([proc.stdout], [], [], timeout)
            ready = proc.stdout.readline() if readable else ""
            assert ready == "ready\n", f"echo server did not start: {ready!r}"
            done = client.run(sys.executable, "-c", _CLIENT, host, str(dial_port),
                              str(timeout), payload, check=False, timeout=timeout + 5)
            assert done.returncode == 0, f"echo client failed: {done.stderr}"
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, f"echo server failed: {err}"
            return done.stdout, out.strip()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def _on_our_bridge(address: str) -> bool:
    addr = ipaddress.ip_address(address)
    out = sh("ip", "-j", "addr", "show").stdout
    return any(
        link["ifname"].startswith(BRIDGE_PREFIX) and ipaddress.ip_address(info["local"]) == addr
        for link in json.loads(out) for info in link.get("addr_info", [])
    )


# --- fixtures ------------------------------------------------------------------------------


@attrs.define
class Snapshot:
    """What a run must give back as it found it: IPv4 forwarding."""

    ip_forward: str


def snapshot() -> Snapshot:
    """Record what exists now, for :func:`leftovers`."""
    return Snapshot(ip_forward=Path("/proc/sys/net/ipv4/ip_forward").read_text().strip())


def _remove_chain(tool: str, chain: str) -> None:
    # Remove every rule that jumps to the chain, then the chain itself.
    for line in nat_rules(tool):
        parts = line.split()
        if parts[:1] == ["-A"] and "-j" in parts and parts[parts.index("-j") + 1] == chain:
            sh(tool, "-w", "-t", "nat", "-D", *shlex.split(line)[1:], check=False)
    sh(tool, "-w", "-t", "nat", "-F", chain, check=False)
    sh(tool, "-w", "-t", "nat", "-X", chain, check=False)


def leftovers() -> list[str]:
    """Remove what this run left behind and say what it was.

    Only this run's things are considered (its tag, its IDs), so a run never removes what
    another run on the same machine is still using. portmap's shared chains are kept, as
    portmap keeps them.
    """
    found: list[str] = []
    names = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    for name in sorted(n for n in names if n.startswith(NETNS_PREFIX + SESSION)):
        found.append(f"network namespace {name}")
        sh("ip", "netns", "delete", name, check=False)
    hashes = _pair_hashes()
    ifbs = {_BANDWIDTH_PREFIX + h[:12] for h in hashes}
    for name in sorted(host_links()):
        if name.startswith((BRIDGE_PREFIX + SESSION, VETH_PREFIX + SESSION)) or name in ifbs:
            found.append(f"link {name}")
            sh("ip", "link", "delete", name, check=False)
    found.extend(_LEAKED_RESERVATIONS)
    _LEAKED_RESERVATIONS.clear()
    ours = {"CNI-DN-" + h[:21] for h in hashes}
    for tool in ("iptables", "ip6tables"):
        for chain in sorted(nat_chains(tool) & ours):
            found.append(f"{tool} nat chain {chain}")
            _remove_chain(tool, chain)
        # portmap's shared chains (CNI-HOSTPORT-DNAT, -SETMARK, -MASQ) stay, as portmap's own
        # DEL leaves them: removing them when no container chain was left raced with another
        # run's portmap ADD, between its creating them and adding its container's chain.
    return found


@pytest.fixture(scope="session")
def netns_session() -> Iterator[None]:
    """The session guard: environment check first, leak check and cleanup last."""
    require_environment()
    before = snapshot()
    try:
        yield
    finally:
        found = leftovers()
        forward = Path("/proc/sys/net/ipv4/ip_forward")
        if forward.read_text().strip() != before.ip_forward:
            # bridge with isGateway turns forwarding on; give the host back as it was.
            forward.write_text(before.ip_forward)
        if found:
            pytest.fail("the netns tests left these behind (now removed):\n  "
                        + "\n  ".join(found), pytrace=False)


@pytest.fixture
def make_netns(netns_session: None) -> Iterator[Callable[[], Netns]]:
    """Factory: a fresh namespace ``cnt-<tag><serial>`` with ``lo`` down; deleted after."""
    made: list[Netns] = []

    def make() -> Netns:
        ns = Netns(unique_name(NETNS_PREFIX))
        sh("ip", "netns", "add", ns.name)
        made.append(ns)
        return ns

    try:
        yield make
    finally:
        for ns in made:
            # Processes left in the namespace keep it alive: kill them first.
            pids = sh("ip", "netns", "pids", ns.name, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            sh("ip", "netns", "delete", ns.name, check=False)


@pytest.fixture
def make_bridge_name(netns_session: None) -> Iterator[Callable[[], str]]:
    """Factory: a unique bridge name ``cnb<tag><serial>``; the bridge (made by the bridge
    plugin, which never removes it) is deleted after the test."""
    names: list[str] = []

    def make() -> str:
        names.append(unique_name(BRIDGE_PREFIX))
        return names[-1]

    try:
        yield make
    finally:
        for name in names:
            if link_exists(name):
                sh("ip", "link", "delete", name, check=False)


@pytest.fixture
def make_veth(netns_session: None) -> Iterator[Callable[[], tuple[str, str]]]:
    """Factory: a host veth pair ``(cnv<tag><serial>, …p)``, both up; deleted after."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        name = unique_name(VETH_PREFIX)
        peer = name + "p"
        sh("ip", "link", "add", name, "type", "veth", "peer", "name", peer)
        made.append(name)
        sh("ip", "link", "set", name, "up")
        sh("ip", "link", "set", peer, "up")
        return name, peer

    try:
        yield make
    finally:
        for name in made:
            if link_exists(name):
                sh("ip", "link", "delete", name, check=False)


_subnet_lock = threading.Lock()
_subnets_used: set[ipaddress.IPv4Network] = set()


@pytest.fixture
def make_subnet(netns_session: None) -> Callable[[], ipaddress.IPv4Network]:
    """Factory: a /24 in 10.213.0.0/16 that no test of this run and no host route uses."""

    def make() -> ipaddress.IPv4Network:
        routes = json.loads(sh("ip", "-j", "-4", "route", "show", "table", "all").stdout)
        taken = set()
        for route in routes:
            with contextlib.suppress(ValueError):
                taken.add(ipaddress.IPv4Network(route.get("dst", ""), strict=False))
        with _subnet_lock:
            for _ in range(1000):
                third = secrets.randbelow(250) + 1
                net = ipaddress.IPv4Network(f"10.213.{third}.0/24")
                if net not in _subnets_used and not any(net.overlaps(t) for t in taken):
                    _subnets_used.add(net)
                    return net
        msg = f"no free /24 left in {_POOL}"
        raise AssertionError(msg)

    return make


# host-local reservations found in a test's scratch directory at its end; the session guard
# reports them (the directory itself is removed, so they cannot pile up).
_LEAKED_RESERVATIONS: list[str] = []


@pytest.fixture
def scratch_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A private temporary directory (IPAM dataDir, cache, configs), removed after the test.

    host-local reservations still in it at the end are reported by :func:`netns_session`.
    """
    path = Path(tempfile.mkdtemp(prefix="cnilib-it-"))
    try:
        yield path
    finally:
        held = ipam_reservations(path)
        if held:
            _LEAKED_RESERVATIONS.append(f"host-local reservations {held} of {request.node.nodeid}")
        shutil.rmtree(path, ignore_errors=True)
