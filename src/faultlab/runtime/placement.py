"""Where a lab process runs in netns mode (`faultlab up --netns`): a service inside its node's network namespace, the
embedded broker and PostgreSQL listening on the bridge's address."""

from __future__ import annotations

import os
from pathlib import Path

from faultlab.core import netns
from faultlab.core.netns import NetnsNetwork
from faultlab.runtime.process import ProcessSpec


def place(network: NetnsNetwork, spec: ProcessSpec, node: str) -> ProcessSpec:
    """The same process run inside `node`'s namespace, bound to its address (netns mode)."""
    spec.argv = [*network.exec_prefix(node), *spec.argv]
    spec.fork_args = None  # `ip netns exec` starts it inside the namespace: not a fork of the template
    if spec.spare_argv:
        spec.spare_argv = [*network.exec_prefix(node), *spec.spare_argv]
    spec.env = {**spec.env, "FAULTLAB_HOST": network.nodes[node].address}
    return spec


def rebind(network: NetnsNetwork, spec: ProcessSpec) -> ProcessSpec:
    """The embedded broker or PostgreSQL listening on the bridge address (PostgreSQL also on loopback)."""
    argv = list(spec.argv)
    if spec.name == "postgres":
        at = argv.index("-h")
        argv[at + 1] = f"127.0.0.1,{network.host_address}"
        data_dir = Path(argv[argv.index("-D") + 1])
        hba = data_dir.parent / "pg_hba_netns.conf"
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n"
                       f"host all all {netns.SUBNET.format(index=network.index)} trust\n")
        hba.chmod(0o644)
        if spec.uid_gid:
            os.chown(hba, *spec.uid_gid)
        argv += ["-c", f"hba_file={hba}"]
    else:
        argv = [a.replace("tcp://127.0.0.1:", f"tcp://{network.host_address}:") for a in argv]
    spec.argv = argv
    return spec
