"""A multi-host lab on one machine: one network namespace per service on a private bridge, removed by name prefix."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

PREFIX = "flab"  # every namespace and link this module creates is named flab<index>-...
SUBNET = "10.213.{index}.0/24"  # private; one /24 per running lab
CLAIMS = Path("/run/faultlab-netns")  # <index>.pid: the process that owns network <index>
HOST_NODE = "host"  # the bridge address in the root namespace: broker, PostgreSQL, supervisor
FIXED_OCTETS = {"orders": 2, "monitor": 3, "voter": 4, "dashboard": 5}  # inventory-N is .10+N
SHORT = {"orders": "ord", "monitor": "mon", "voter": "vot", "dashboard": "dsh"}
NAME = re.compile(rf"^{PREFIX}(\d{{1,3}})-")


class NetnsError(RuntimeError):
    """A namespace, link or address could not be set up; the message has the failing command."""


def unavailable_reason() -> str | None:
    """Why this machine cannot run the namespace lab (None when it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (run as root, or without --netns)"
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found: install iproute2 (apt-get install -y iproute2)"
    return None


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one iproute2 command; a failure raises NetnsError naming the command and its stderr."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    if check and done.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done


@dataclass(frozen=True)
class Node:
    """One service host: a namespace, its address, and the two ends of its veth pair."""

    name: str  # "orders", "inventory-2", ...
    namespace: str
    address: str
    host_link: str  # root-namespace end, a port of the bridge
    ns_link: str  # the end inside the namespace


class NetnsNetwork:
    """Namespaces, veth pairs and a bridge for one lab; `destroy()` removes all of it and is safe to repeat."""

    def __init__(self, index: int, services: list[str]) -> None:
        if not 0 <= index <= 254:
            raise ValueError("index must be 0..254")
        self.index = index
        self.tag = f"{PREFIX}{index}"
        self.bridge = f"{self.tag}-br"
        self.host_address = f"10.213.{index}.1"
        self.nodes: dict[str, Node] = {}
        for name in services:
            if name.startswith("inventory-"):
                replica = int(name.split("-", 1)[1])
                octet, short = 10 + replica, f"inv{replica}"
            else:
                octet, short = FIXED_OCTETS[name], SHORT[name]
            self.nodes[name] = Node(name, f"{self.tag}-{short}", f"10.213.{index}.{octet}",
                                    f"{self.tag}-{short}h", f"{self.tag}-{short}n")
        self.created = False

    # ---- allocation ------------------------------------------------------------------------------

    @classmethod
    def allocate(cls, services: list[str], owner_pid: int | None = None) -> NetnsNetwork:
        """Clean up networks left by dead owners, then claim the lowest free index for `owner_pid`."""
        cleanup_leftovers()
        used = in_use_indexes() | _indexes_with_addresses()
        CLAIMS.mkdir(parents=True, exist_ok=True)
        for index in range(255):
            if index in used:
                continue
            try:
                fd = os.open(CLAIMS / f"{index}.pid", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{owner_pid or os.getpid()}\n")
            return cls(index, services)
        raise NetnsError("no free 10.213.N.0/24 network left (255 labs running?)")

    def service_hosts(self) -> dict[str, str]:
        """The address map for Settings.service_hosts: every node, plus broker and PostgreSQL on the bridge."""
        hosts = {name: node.address for name, node in self.nodes.items()}
        hosts.update({"broker": self.host_address, "postgres": self.host_address})
        return hosts

    def address_of(self, node: str) -> str:
        return self.host_address if node == HOST_NODE else self.nodes[node].address

    def sockets(self, source: str, destination: str) -> dict[str, int]:
        """TCP sockets from one node to another, by state (`ss` inside the source's namespace): how many
        connects a partition leaves waiting, say."""
        out = run(["ip", "netns", "exec", self.nodes[source].namespace, "ss", "-tanH", "dst",
                   self.address_of(destination)], check=False).stdout
        states: dict[str, int] = {}
        for line in out.splitlines():
            if line.strip():
                state = line.split()[0]
                states[state] = states.get(state, 0) + 1
        return states

    # ---- create / destroy ------------------------------------------------------------------------

    def create(self) -> None:
        """Bridge with the host address, then one namespace per node with a veth into the bridge."""
        self.created = True
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        run(["ip", "addr", "add", f"{self.host_address}/24", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        for node in self.nodes.values():
            run(["ip", "netns", "add", node.namespace])
            run(["ip", "link", "add", node.host_link, "type", "veth", "peer", "name", node.ns_link])
            run(["ip", "link", "set", node.ns_link, "netns", node.namespace])
            run(["ip", "link", "set", node.host_link, "master", self.bridge])
            run(["ip", "link", "set", node.host_link, "up"])
            run(["ip", "-n", node.namespace, "addr", "add", f"{node.address}/24", "dev", node.ns_link])
            run(["ip", "-n", node.namespace, "link", "set", node.ns_link, "up"])
            run(["ip", "-n", node.namespace, "link", "set", "lo", "up"])

    def destroy(self) -> None:
        """Kill what still runs inside, delete namespaces, links and bridge, release the claim."""
        destroy_index(self.index)

    def exec_prefix(self, node: str) -> list[str]:
        return ["ip", "netns", "exec", self.nodes[node].namespace]


# ---- leftovers ---------------------------------------------------------------------------------------


def _names(argv: list[str]) -> list[str]:
    done = run(argv, check=False)
    return [line.split()[0].split("@")[0].rstrip(":") for line in done.stdout.splitlines() if line.strip()]


def namespaces() -> list[str]:
    return [n for n in _names(["ip", "netns", "list"]) if NAME.match(n)]


def links() -> list[str]:
    names = [line.split(":", 2)[1].strip().split("@")[0]
             for line in run(["ip", "-o", "link", "show"], check=False).stdout.splitlines() if line.count(":") >= 2]
    return [n for n in names if NAME.match(n)]


def in_use_indexes() -> set[int]:
    return {int(NAME.match(n).group(1)) for n in [*namespaces(), *links()]}  # type: ignore[union-attr]


def _indexes_with_addresses() -> set[int]:
    """Indexes whose 10.213.N.0/24 already has an address on this machine (not ours: never touch it)."""
    found = re.findall(r"inet 10\.213\.(\d{1,3})\.", run(["ip", "-o", "addr", "show"], check=False).stdout)
    return {int(n) for n in found}


def _owner_alive(index: int) -> bool:
    try:
        pid = int((CLAIMS / f"{index}.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def cleanup_leftovers() -> list[int]:
    """Remove every flab<N> network whose owner is gone (a crashed lab); returns the indexes removed."""
    removed = []
    claimed = {int(p.stem) for p in CLAIMS.glob("*.pid") if p.stem.isdigit()} if CLAIMS.exists() else set()
    for index in sorted(in_use_indexes() | claimed):
        if not _owner_alive(index):
            destroy_index(index)
            removed.append(index)
    return removed


def destroy_index(index: int) -> None:
    """Everything named flab<index>-*: processes inside its namespaces, namespaces, links, bridge, claim."""
    tag = f"{PREFIX}{index}-"
    for ns in [n for n in namespaces() if n.startswith(tag)]:
        for pid in run(["ip", "netns", "pids", ns], check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        run(["ip", "netns", "del", ns], check=False)
    for link in [n for n in links() if n.startswith(tag)]:
        run(["ip", "link", "del", link], check=False)
    with contextlib.suppress(FileNotFoundError):
        (CLAIMS / f"{index}.pid").unlink()
