"""benchmarks/harness.py: a benchmark stopped by SIGTERM (a `kill`, a job runner's timeout) cleans up as on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from benchmarks.harness import run

    async def main():
        try:
            print("started", flush=True)
            await asyncio.sleep(120)
        finally:
            print("cleaned up", flush=True)  # where a benchmark's `async with Supervisor(...)` stops the lab

    raise SystemExit(run(main()))
""")


def test_sigterm_cancels_the_benchmark_and_runs_its_cleanup(tmp_path: Path) -> None:
    """SIGTERM during a long await: the main's `finally` runs and the exit code is 130, not a two-minute wait."""
    script = tmp_path / "bench.py"
    script.write_text(SCRIPT.format(root=str(ROOT)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGTERM)
    out, _err = proc.communicate(timeout=60)
    assert out.strip() == "cleaned up" and proc.returncode == 130


def test_a_finished_benchmark_exits_with_its_own_code(tmp_path: Path) -> None:
    """Without a signal the main runs to its end, cleanup included, and its result is the exit code."""
    script = tmp_path / "bench.py"
    script.write_text(SCRIPT.format(root=str(ROOT)).replace("await asyncio.sleep(120)", "return 3"))
    done = subprocess.run([sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and done.stdout.split() == ["started", "cleaned", "up"]
