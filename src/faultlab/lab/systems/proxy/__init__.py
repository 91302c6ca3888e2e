"""The fault proxy: faults on a system's replicas without the system's help, from an HTTP proxy in front of each.

A system that has no fault endpoint of its own (or one the lab chooses not to use: `inject: proxy`) gets its
faults here. Its voter and monitor are pointed at the proxies instead of the replicas; each proxy forwards to its
replica and puts faults on the traffic: latency, hang, intermittent (a 5xx), refused (the port closed, or each
connection reset), incorrect (a JSON field of the answer rewritten), and crash (the replica's process killed by its
id). The kinds and their parameters are `faults/proxy.py`'s; with no fault on, a request and its answer pass
untouched.

In-process (the experiment's `inject: proxy`, the tests, `faultlab system proxy`)::

    from faultlab.lab.systems.proxy import FaultProxy

    async with FaultProxy({1: "http://127.0.0.1:5001", 2: "http://127.0.0.1:5002"}, host="0.0.0.0",
                          ports={1: 6001, 2: 6002}, seed=7, pids={1: 4242}) as proxy:
        proxy.address(1)                                      # "http://127.0.0.1:6001": point the voter here
        at = await proxy.inject(1, "latency", {"latency_ms": 1200, "paths": ["/inventory"]})  # when it took effect
        await proxy.inject(2, "incorrect", {"product_id": "PROD-001", "delta": 100})
        answer = await proxy.inject_fault(1, "hang")          # {"replica", "fault": {kind, params, ...}, "activated_at"}
        cleared_at = await proxy.clear(1)                     # every fault on replica 1 (or one kind: clear(1, "hang"))
        await proxy.reset()                                   # every fault on every replica
        await proxy.inject(1, "crash")                        # SIGKILL to pid 4242; its activated_at is the kill

Bad parameters raise `faultlab.core.messages.Refused` (every problem, with its place); what cannot be done (a port
in use, no such replica, a crash without a process id) raises `ProxyError`; either way nothing changed. `stop()`
(or leaving the `async with`) clears every fault and closes every port.

Over HTTP (a proxy another process runs, `faultlab system proxy`): the control API of `control.py`, token-protected
like every fault endpoint, described by `openapi/proxy.py`; `ProxyClient` calls it with the same fault methods::

    state = running_proxy(settings.home)                      # None unless `faultlab system proxy` runs from there
    async with ProxyClient(state["control_url"], settings.admin_token) as proxy:
        at = await proxy.inject(1, "latency", {"latency_ms": 1200})
        await proxy.clear(1)
"""

from faultlab.lab.systems.proxy.client import ProxyClient, running_proxy
from faultlab.lab.systems.proxy.proxies import FaultProxy, UnknownReplica
from faultlab.lab.systems.proxy.server import ProxyError, Upstream

__all__ = ["FaultProxy", "ProxyClient", "ProxyError", "UnknownReplica", "Upstream", "running_proxy"]
