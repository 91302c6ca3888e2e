"""Replayed records on a lab of its own: after a reset (other epoch) and within an epoch (seen before).

    .venv/bin/python benchmarks/replays.py [--records 20] [--orders 3] [--failures 3]

1. `--records` orders, their sealed order-events and the replicas' results read off the broker, `faultlab reset`,
   the same records written back, then `--orders` new orders: records set aside per replica by reason, results set
   aside by reason, each replica's stock against the single-copy model, and the time from the first new order to
   all of them CONFIRMED — beside the same orders after a reset with nothing replayed (the control).
2. `--failures` sealed failures of replica 2 on error-queue (it goes OFF, then ON again), written again: copies
   counted as "seen before", OFF transitions they caused (target 0), before and after a monitor restart.
3. The replicas' results records written again within the epoch: copies counted as "seen before", orders moved
   (target 0).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import lab_settings, run
from faultlab.core import bus
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, get_json, post_orders, produce, read_topic, wait_converged

PRODUCT = "PROD-002"


async def until(check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := await check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout_s} s waiting for {check.__name__}")
        await asyncio.sleep(0.02)
    return found


def sealed_in(lab: Supervisor, epoch: str, topic: str, values: list[bytes]) -> list[bytes]:
    """The records the lab sealed for `topic` in `epoch`."""
    sealer, found = bus.Sealer(lab.settings.admin_token, epoch), []
    for raw in values:
        try:
            sealer.unseal(lab.settings.topic(topic), raw)
        except bus.Unsealed:
            continue
        found.append(raw)
    return found


class Bench:
    """One lab and the calls the scenarios make to it."""

    def __init__(self, lab: Supervisor, http: aiohttp.ClientSession) -> None:
        self.lab = lab
        self.http = http
        self.s = lab.settings

    async def monitor(self) -> dict[str, Any]:
        return dict((await get_json(self.http, f"{self.s.service_url('monitor')}/status"))[1])

    async def health(self, service: str) -> dict[str, Any]:
        base = self.s.replica_url(int(service[-1])) if service.startswith("inventory-") else self.s.service_url(service)
        return dict((await get_json(self.http, f"{base}/health"))[1])

    async def statuses(self, order_ids: list[str]) -> list[str]:
        return [(await get_json(self.http, f"{self.s.service_url('orders')}/orders/{o}"))[1]["status"]
                for o in order_ids]

    async def reset(self) -> str:
        async with self.http.post(f"http://127.0.0.1:{self.s.supervisor_port}/reset", headers=auth(self.lab),
                                  timeout=aiohttp.ClientTimeout(total=120)) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["epoch"])

    async def confirm_time(self, count: int) -> float:
        """Seconds from the first of `count` new orders to all of them CONFIRMED."""
        started = time.perf_counter()
        new = await post_orders(self.http, self.lab, [(PRODUCT, 1)] * count, concurrency=1)
        assert len(new) == count

        async def confirmed() -> bool:
            return await self.statuses(new) == ["CONFIRMED"] * count

        await until(confirmed, 60)
        return time.perf_counter() - started

    async def after_reset(self, records: int, orders: int) -> dict[str, Any]:
        start = (await self.health("inventory-1"))["applied_seq"]
        assert len(await post_orders(self.http, self.lab, [(PRODUCT, 1)] * records)) == records
        await wait_converged(self.lab, self.http, timeout_s=120)
        old = (await self.monitor())["epoch"]
        events = [r for r in sealed_in(self.lab, old, bus.ORDER_EVENTS, await read_topic(self.lab, bus.ORDER_EVENTS))
                  if orjson.loads(r)["seq"] > start]
        results = sealed_in(self.lab, old, bus.INVENTORY_RESULTS, await read_topic(self.lab, bus.INVENTORY_RESULTS))
        await self.reset()
        await produce(self.lab, bus.ORDER_EVENTS, events)
        await produce(self.lab, bus.INVENTORY_RESULTS, results)
        took = await self.confirm_time(orders)
        model = await wait_converged(self.lab, self.http, timeout_s=120)
        replicas = {r: await self.health(f"inventory-{r}") for r in self.s.replica_ids}

        async def reported() -> list[dict[str, int]] | None:
            found = [i["set_aside_by_reason"] for i in (await self.monitor())["instances"]]
            return found if all(sum(f.values()) >= len(events) for f in found) else None

        shown = await until(reported, 20)
        results_set_aside = (await self.health("orders"))["results_set_aside_by_reason"]
        await self.reset()
        control = await self.confirm_time(orders)
        return {"events_replayed": len(events), "results_replayed": len(results),
                "set_aside_by_replica": {r: h["set_aside_by_reason"] for r, h in replicas.items()},
                "monitor_shows": shown, "results_set_aside": results_set_aside,
                "stock_equals_model": all(h["applied_seq"] == model.applied_seq == orders for h in replicas.values()),
                "available": model.products[PRODUCT].available,
                "confirm_s": round(took, 3), "confirm_s_no_replay": round(control, 3)}

    async def error_queue(self, failures: int) -> dict[str, Any]:
        before = await self.monitor()
        writer = bus.Sealer(self.s.admin_token, before["epoch"], writer=bus.new_writer_id())
        topic = self.s.topic(bus.ERROR_QUEUE)
        records = [writer.seal(topic, {"replica": 2, "kind": "apply_failed", "detail": "bench", "at": time.time()})
                   for _ in range(failures)]
        off = before["instances"][1]["transitions"]["OFF"]
        await produce(self.lab, bus.ERROR_QUEUE, records)

        async def recovered() -> dict[str, Any] | None:
            replica = (await self.monitor())["instances"][1]
            return replica if replica["status"] == "ON" and replica["transitions"]["OFF"] > off else None

        first = await until(recovered, 30)
        figures: dict[str, Any] = {"originals": failures, "off_on_originals": first["transitions"]["OFF"] - off}
        figures["after_recovery"] = await self._replay_errors(records)
        pid = self.lab.processes["monitor"].pid
        self.lab.processes["monitor"].signal(signal.SIGKILL)
        await until(lambda: self._restarted("monitor", pid), 30)
        await self.lab.wait_working(60)
        figures["after_monitor_restart"] = await self._replay_errors(records)
        return figures

    async def _replay_errors(self, records: list[bytes]) -> dict[str, Any]:
        """Write the error-queue records again: how many the monitor counted as seen before, how fast, and the OFF
        transitions of replica 2 in the second after."""
        status = await self.monitor()
        seen, offs = status["rejected_records"].get("seen before", 0), status["instances"][1]["transitions"]["OFF"]
        started = time.perf_counter()
        await produce(self.lab, bus.ERROR_QUEUE, records)

        async def counted() -> dict[str, Any] | None:
            now = await self.monitor()
            return now if now["rejected_records"].get("seen before", 0) >= seen + len(records) else None

        await until(counted, 30)
        counted_s = time.perf_counter() - started
        await asyncio.sleep(1.0)
        now = await self.monitor()
        return {"seen_before": now["rejected_records"].get("seen before", 0) - seen,
                "off_transitions": now["instances"][1]["transitions"]["OFF"] - offs, "counted_in_s": round(counted_s, 3)}

    async def _restarted(self, service: str, pid: int | None) -> bool:
        if self.lab.processes[service].pid in (None, pid):
            return False
        try:
            return bool((await self.health(service)).get("working"))
        except (aiohttp.ClientError, OSError, ValueError):
            return False

    async def results_within_epoch(self) -> dict[str, Any]:
        epoch = (await self.monitor())["epoch"]
        results = sealed_in(self.lab, epoch, bus.INVENTORY_RESULTS, await read_topic(self.lab, bus.INVENTORY_RESULTS))
        ids = sorted({r[1] for raw in results for r in orjson.loads(raw)["results"] if r[2] == "order_created"})
        before_status = await self.statuses(ids)
        seen = (await self.health("orders"))["results_set_aside_by_reason"].get("seen before", 0)
        await produce(self.lab, bus.INVENTORY_RESULTS, results)

        async def counted() -> bool:
            return (await self.health("orders"))["results_set_aside_by_reason"].get("seen before", 0) >= \
                seen + len(results)

        await until(counted, 30)
        after = await self.statuses(ids)
        return {"replayed": len(results), "seen_before": (await self.health("orders"))[
            "results_set_aside_by_reason"].get("seen before", 0) - seen,
                "orders": len(ids), "orders_moved": sum(a != b for a, b in zip(before_status, after, strict=True))}


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="faultlab-replays-") as home:
        stock = {"PROD-001": 1000, "PROD-002": 500 + args.records, "PROD-003": 750}
        async with Supervisor(lab_settings(Path(home), initial_stock=stock)) as lab, \
                aiohttp.ClientSession() as http:
            bench = Bench(lab, http)
            figures = {"after_reset": await bench.after_reset(args.records, args.orders),
                       "error_queue": await bench.error_queue(args.failures),
                       "results_within_epoch": await bench.results_within_epoch()}
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    reset = figures["after_reset"]
    ok = (all(r == {"other epoch": reset["events_replayed"]} for r in reset["set_aside_by_replica"].values())
          and reset["results_set_aside"] == {"other epoch": reset["results_replayed"]} and reset["stock_equals_model"]
          and all(f["off_transitions"] == 0 and f["seen_before"] == args.failures
                  for k, f in figures["error_queue"].items() if k.startswith("after_"))
          and figures["results_within_epoch"]["orders_moved"] == 0)
    print("verdict:", "every replayed record set aside, nothing applied, no OFF" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20, help="orders before the reset, whose records are replayed")
    parser.add_argument("--orders", type=int, default=3, help="new orders after the replay")
    parser.add_argument("--failures", type=int, default=3, help="sealed failures written to error-queue, then again")
    sys.exit(run(main(parser.parse_args())))
