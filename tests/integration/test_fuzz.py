"""Fuzzing every service's OpenAPI on the running lab: no 5xx, every invalid input a 4xx with a JSON message."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import hypothesis
import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from faultlab.core.messages import Refused
from faultlab.core.messages.supervisor import ResetRequest
from faultlab.faults import request_kind
from faultlab.runtime.supervisor import Supervisor
from tests.helpers import auth, clear_all_faults

# Examples per operation and mode: ~40 operations x 2 modes keep the whole file well under 3 minutes.
EXAMPLES = int(os.environ.get("FAULTLAB_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
METHODS = ("get", "post", "put", "delete", "patch")
# Invalid data must get a 4xx: any 4xx (413 for a body over 16 KiB too), never a 5xx or a 2xx.
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": ["4xx"]}}})
# Observations that open a fault episode only a real clear or restart closes: not sent with valid data, so the
# fuzzer does not leave made-up episodes in the shared lab's monitor (their validation is still fuzzed).
EPISODE_KINDS = {"fault_injected", "process_exit"}
FUZZ_REPLICA = 3


@dataclass
class Tally:
    """What the fuzzer sent and what went wrong, per service."""

    cases: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


@dataclass
class Target:
    """One service to fuzz: where it is, and what must not be sent to the shared lab."""

    name: str
    base_url: str
    skip: Callable[[Any], bool] = lambda _case: False
    after: Callable[[Any], None] | None = None
    excluded: set[tuple[str, str]] = field(default_factory=set)


def _fault_kind(body: Any) -> Any:
    if not isinstance(body, dict):
        return None
    try:
        return request_kind(body)
    except Refused:
        return None


def _json_error_message(response: Any) -> str | None:
    """What is wrong with a 4xx/5xx answer, or None when it is a JSON object with an `error` message."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return f"error answer is not JSON: {response.content[:120]!r}"
    if not isinstance(data, dict) or not isinstance(data.get("error"), str) or not data["error"]:
        return f"error answer has no message: {response.content[:120]!r}"
    return None


def _describe(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[:4])[:400]


def _has_input(doc: dict[str, Any], path: str, method: str) -> bool:
    op = doc["paths"][path][method]
    return bool(op.get("parameters") or op.get("requestBody"))


def fuzz_service(target: Target, headers: dict[str, str], tally: Tally) -> None:
    """Fuzz every documented operation of one service, valid and invalid data (runs in a worker thread)."""
    doc = requests.get(f"{target.base_url}/openapi.json", timeout=5).json()
    schema = schemathesis.openapi.from_dict(doc, config=CONFIG)
    session = requests.Session()
    for path, item in doc["paths"].items():
        for method in (m for m in item if m in METHODS):
            if (method, path) in target.excluded:
                continue
            operation = schema[path][method.upper()]
            modes = [GenerationMode.POSITIVE]
            if _has_input(doc, path, method):
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                _fuzz_operation(target, operation, mode, headers, session, tally)


def _fuzz_operation(target: Target, operation: Any, mode: GenerationMode, headers: dict[str, str],
                    session: requests.Session, tally: Tally) -> None:
    label = f"{target.name} {operation.label} [{mode.value}]"
    seen: set[str] = set()

    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck), phases=[Phase.generate], print_blob=False)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if target.skip(case):
            tally.skipped[target.name] += 1
            return
        try:
            response = case.call(base_url=target.base_url, headers=headers, session=session, timeout=10)
        finally:
            if target.after is not None:
                target.after(case)
        tally.cases[target.name] += 1
        tally.statuses[response.status_code] += 1
        problems = []
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseExceptionGroup as group:  # schemathesis's FailureGroup: every distinct failure is reported
            problems.extend(_describe(exc) for exc in group.exceptions)
        except AssertionError as exc:
            problems.append(_describe(exc))
        if response.status_code >= 400:
            message = _json_error_message(response)
            if message:
                problems.append(message)
        for problem in problems:
            key = f"{label}: {problem}"
            if key not in seen:
                seen.add(key)
                tally.failures.append(f"{key}\n    {case.as_curl_command(base_url=target.base_url)}"
                                      f"\n    -> {response.status_code} {response.content[:200]!r}")

    run()


def _resets(lab: Supervisor, body: Any) -> bool:
    """Whether the supervisor would carry out POST /reset with this body (none: a reset with the lab's settings)."""
    if body is None or isinstance(body, NotSet):
        return True
    try:
        request = ResetRequest.model_validate(body)
        lab.base_settings.changed(request.settings.model_dump(exclude_none=True))
    except ValueError:  # pydantic's ValidationError is one
        return False
    return True


def _targets(lab: Supervisor, headers: dict[str, str]) -> list[Target]:
    s = lab.settings
    replica_url = s.replica_url(FUZZ_REPLICA)
    supervisor_url = f"http://127.0.0.1:{s.supervisor_port}"

    def clear_faults(_case: Any) -> None:
        requests.delete(f"{replica_url}/faults", headers=headers, timeout=5).raise_for_status()

    def inventory_skip(case: Any) -> bool:
        # crash would exit the replica: the kill-anything test covers it; here it is never sent.
        return case.path in ("/faults", "/inject-failure") and _fault_kind(case.body) == "crash"

    def inventory_after(case: Any) -> None:
        if case.path in ("/faults", "/inject-failure"):
            clear_faults(case)

    def monitor_skip(case: Any) -> bool:
        body = case.body
        if case.path != "/reports" or not isinstance(body, dict) or not isinstance(body.get("observations"), list):
            return False
        kinds = {o.get("kind") for o in body["observations"] if isinstance(o, dict)}
        return case.meta.generation.mode.is_positive and bool(kinds & EPISODE_KINDS)

    def supervisor_skip(case: Any) -> bool:
        # A real process name would kill, stop or restart part of the shared lab; a reset the supervisor would
        # carry out would restart the shared lab's services with made-up settings. Its invalid bodies are fuzzed
        # (each must be a 4xx); a "negative" case whose mutation the server ignores (a query, a header) but whose
        # body it accepts would reset for real, so the server's own check decides what is never sent.
        if case.path == "/reset":
            return case.meta.generation.mode.is_positive or _resets(lab, case.body)
        return case.path_parameters.get("name") in lab.processes

    def supervisor_after(case: Any) -> None:
        if case.path == "/netfaults" and case.method == "POST":  # a lab in namespaces: never leave a partition
            requests.delete(f"{supervisor_url}/netfaults", headers=headers, timeout=5)

    return [
        Target("orders", s.service_url("orders")),
        Target("voter", s.service_url("voter")),
        Target("monitor", s.service_url("monitor"), skip=monitor_skip),
        Target("supervisor", supervisor_url, skip=supervisor_skip, after=supervisor_after,
               excluded={("post", "/shutdown")}),  # with the token it stops the lab: test_security sends it without
        Target("inventory", replica_url, skip=inventory_skip, after=inventory_after),
    ]


@pytest.mark.timeout(900)  # every operation of five services, valid and invalid: minutes on a busy 2-core machine
async def test_fuzz_every_service_no_5xx_and_clear_4xx(lab: Supervisor) -> None:
    """Valid and invalid requests to every documented operation: no 5xx, 4xx with a message, schemas honoured."""
    await clear_all_faults(lab)
    await lab.wait_working(30)
    headers = auth(lab)
    tally = Tally()
    started = time.monotonic()
    try:
        for target in _targets(lab, headers):
            await asyncio.to_thread(fuzz_service, target, headers, tally)
    finally:
        await clear_all_faults(lab)
    elapsed = time.monotonic() - started
    total = sum(tally.cases.values())
    print(f"\nfuzz: {total} cases sent in {elapsed:.1f} s ({EXAMPLES} examples per operation and mode); "
          f"per service {dict(tally.cases)}; not sent (guards) {dict(tally.skipped)}; "
          f"statuses {dict(sorted(tally.statuses.items()))}; failures {len(tally.failures)}")
    for failure in tally.failures:
        print(failure)
    assert total >= 300, f"too few cases sent: {total}"
    assert not tally.failures, f"{len(tally.failures)} failures, first: {tally.failures[0]}"
    await lab.wait_working(30)


async def test_documented_security_is_enforced(lab: Supervisor) -> None:
    """Every operation the documents mark with the bearer scheme answers 401 without the token; no other does."""
    s = lab.settings
    bases = {"orders": s.service_url("orders"), "voter": s.service_url("voter"),
             "monitor": s.service_url("monitor"), "supervisor": f"http://127.0.0.1:{s.supervisor_port}",
             "inventory": s.replica_url(1)}
    checked = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for name, base in bases.items():
            async with session.get(f"{base}/openapi.json") as resp:
                doc = await resp.json()
            for path, item in doc["paths"].items():
                for method, op in item.items():
                    if method not in METHODS or path == "/events":  # /events may stream: covered by the fuzzer
                        continue
                    url = base + path.replace("{name}", "no-such-process").replace("{order_id}", "x") \
                        .replace("{restock_id}", "x").replace("{product_id}", "NO-SUCH")
                    async with session.request(method.upper(), url) as resp:
                        status = resp.status
                        body = await resp.read()
                    checked += 1
                    if op.get("security"):
                        assert status == 401, f"{name} {method} {path}: {status} {body[:100]!r}"
                    else:
                        assert status != 401, f"{name} {method} {path} wants a token it does not document"
    assert checked >= 35


# Inputs the fuzzer found answered 500 or accepted (2xx) before the handlers checked them; each must now be a 400.
FOUND = [
    ("inventory", "GET", "/inventory?history=%C2%B2", None),  # "²".isdigit() is true, int("²") raised: 500
    ("inventory", "POST", "/faults", {"kind": "latency", "latency_ms": [1]}),  # float([1]) raised TypeError: 500
    ("inventory", "POST", "/faults", {"kind": "stale", "latency_ms": -1e308}),  # another kind's parameter: accepted
    ("inventory", "POST", "/faults", {"kind": "error", "product_id": ["x"]}),  # ditto, and of the wrong type
    ("inventory", "POST", "/faults", {"kind": "intermittent", "type": "incorrect"}),  # two kinds named: accepted
    ("inventory", "POST", "/inject-failure", {"failure_type": "hang", "delta": 5}),
    ("monitor", "GET", "/events?since=-1", None),  # any integer was taken as an event id
    ("monitor", "GET", "/events?format=xml", None),  # unknown formats were ignored
    ("monitor", "POST", "/reports", {"observations": [{"replica": 1, "kind": "health", "at": 1.0, "code": "x"}]}),
    ("monitor", "POST", "/reports", {"observations": [{"replica": 1, "kind": "wrong", "at": 1.0, "source": 7}]}),
    ("monitor", "POST", "/reports", {"observations": [{"replica": 1, "kind": "fault_injected", "at": 1.0,
                                                       "fault": "crash"}]}),  # fault.get() raised: 500
    ("monitor", "POST", "/reports", {"observations": [{"replica": 1, "kind": "fault_cleared", "at": 1.0,
                                                       "fault": {"params": True, "activated_at": [1]}}]}),
    ("monitor", "POST", "/reports", {"observations": [{"replica": 1, "kind": "wrong", "at": 1.0,
                                                       "source": "vo\x00ter"}]}),  # NUL: poisons audit writes
]


async def test_inputs_the_fuzzer_found_are_refused_and_change_nothing(lab: Supervisor) -> None:
    """Each input below once got a 500 or a 2xx; now a 400 with a message, and no fault becomes active."""
    s = lab.settings
    bases = {"inventory": s.replica_url(FUZZ_REPLICA), "monitor": s.service_url("monitor")}
    async with aiohttp.ClientSession(headers=auth(lab), timeout=aiohttp.ClientTimeout(total=5)) as session:
        for service, method, path, body in FOUND:
            async with session.request(method, bases[service] + path, json=body) as resp:
                data = await resp.json()
                assert resp.status == 400 and isinstance(data.get("error"), str), (path, body, resp.status, data)
        async with session.get(f"{bases['inventory']}/faults") as resp:
            assert (await resp.json())["faults"] == []
        async with session.get(f"{bases['monitor']}/events?format=json&since={2**62}") as resp:
            assert resp.status == 200  # the dashboard asks this way for the next event id only
