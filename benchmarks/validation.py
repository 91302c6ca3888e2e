"""What validating a message by its model costs: the monitor's observation reports (its busiest body: the voter
reports evidence on every vote), a fault body, an order, and an experiment file with its report.json embedding.

    .venv/bin/python benchmarks/validation.py [--rounds 2000] [--batch 50]

Prints microseconds per message (median of 5 timings). No lab needed: the models are validated in this process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from faultlab.core.messages import parse
from faultlab.core.messages.monitor import ObservationReport
from faultlab.core.messages.orders import NewOrder
from faultlab.faults import parse_fault
from faultlab.lab.experiment_reader import load_experiment

ROOT = Path(__file__).resolve().parents[1]


def timed(work: Callable[[], object], rounds: int) -> float:
    """Median over 5 timings of `rounds` calls, in microseconds per call."""
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        samples.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000, help="calls per timing (default 2000)")
    parser.add_argument("--batch", type=int, default=50, help="observations per report (default 50)")
    args = parser.parse_args()
    observation = {"replica": 2, "kind": "slow", "ok": False, "source": "voter", "at": 1_800_000_000.5, "count": 3,
                   "sent_at": 1_800_000_000.1, "detail": "answered 180 ms after quorum"}
    report = {"observations": [dict(observation) for _ in range(args.batch)]}
    context = {"replica_ids": [1, 2, 3]}
    per_report = timed(lambda: parse(ObservationReport, report, context), max(1, args.rounds // 10))
    print(f"observation report of {args.batch}: {per_report:.1f} µs ({per_report / args.batch:.2f} µs per observation)")
    fault = {"kind": "latency", "latency_ms": 1200, "jitter_ms": 50, "seed": 7}
    print(f"fault body (POST /faults): {timed(lambda: parse_fault(fault), args.rounds):.1f} µs")
    order = {"product_id": "PROD-001", "quantity": 2}
    print(f"order body (POST /orders): {timed(lambda: parse(NewOrder, order), args.rounds):.1f} µs")
    guide = ROOT / "experiments" / "guide.yaml"
    per_file = timed(lambda: load_experiment(guide), max(1, args.rounds // 100))
    print(f"experiments/guide.yaml (read, YAML, validated): {per_file / 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
