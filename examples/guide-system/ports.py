"""The refusal to start on a port in use, naming who holds it (a faultlab lab, when one can tell)."""

import json
import os
from pathlib import Path

from processes import Failure, port_free

REPOSITORY = Path(__file__).resolve().parent.parent.parent


def listener_pids(port):
    """The processes listening on a TCP port, found in /proc (empty when not allowed to look)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            pids.append(int(entry.name))
    return pids


def faultlab_lab_ports():
    """Ports of a faultlab lab whose state file (lab.json) is found: FAULTLAB_HOME, ./.faultlab, the repository's."""
    candidates = [Path(".faultlab"), REPOSITORY / ".faultlab"]
    if os.environ.get("FAULTLAB_HOME"):
        candidates.insert(0, Path(os.environ["FAULTLAB_HOME"]))
    found = {}
    for home in candidates:
        try:
            state = json.loads((home / "lab.json").read_text())
            values = state["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        ports = {int(v) for k, v in values.items() if k.endswith("_PORT") and str(v).isdigit()}
        if str(values.get("FAULTLAB_INVENTORY_BASE_PORT", "")).isdigit():
            base = int(values["FAULTLAB_INVENTORY_BASE_PORT"])
            ports |= set(range(base, base + int(values.get("FAULTLAB_REPLICAS", 3))))
        for port in ports:
            found.setdefault(port, (home / "lab.json").resolve())
    return found


def holder(port, lab_ports):
    """Who holds a port, as far as one can tell: a faultlab lab, or the listening program."""
    for pid in listener_pids(port):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "faultlab" in command:
            return f"a faultlab lab (pid {pid}: {command.strip()[:80]}); stop it with `faultlab down`"
        if port in lab_ports:
            return f"a faultlab lab (its state: {lab_ports[port]}); stop it with `faultlab down`"
        return f"pid {pid}: {command.strip()[:80]}"
    if port in lab_ports:
        return f"a faultlab lab (its state: {lab_ports[port]}); stop it with `faultlab down`"
    return None


def check_ports(ports):
    """Refuse to start on a port in use, saying which and, when one can tell, who holds it."""
    lab_ports = None
    problems = []
    for name, port in ports.items():
        if port_free(port):
            continue
        if lab_ports is None:
            lab_ports = faultlab_lab_ports()
        who = holder(port, lab_ports)
        problems.append(f"  port {port} ({name}) is in use" + (f" by {who}" if who else ""))
    if problems:
        raise Failure("cannot start: ports in use (set GUIDE_*_PORT to choose others, see README.md):\n"
                      + "\n".join(problems))
