"""The fault proxy's kinds, its HTTP framing and its command line, on literal inputs: no socket."""

from __future__ import annotations

import asyncio
import copy
import gzip
from pathlib import Path
from typing import Any

import pytest

from faultlab.cli.proxy import pairs, parse_pids, parse_ports
from faultlab.core.messages import Refused, schema_of
from faultlab.faults.hang import HangParams
from faultlab.faults.incorrect import IncorrectParams
from faultlab.faults.intermittent import IntermittentParams
from faultlab.faults.latency import LatencyParams
from faultlab.faults.proxy import PROXY_KINDS, RESET, parse_proxy_params, proxy_kind
from faultlab.lab.systems.proxy import FaultProxy
from faultlab.lab.systems.proxy.http import (
    Message,
    ProtocolError,
    Stream,
    compose,
    dechunk,
    parse_head,
    read_answer,
    read_request,
)

SHOP_ANSWER = {"instance_id": "1", "replica": 1, "applied_seq": 12, "inventory": [
    {"product_id": "PROD-001", "available_quantity": 990, "reserved_quantity": 10, "position": 3,
     "history": [[3, 990, 10]]},
    {"product_id": "PROD-002", "available_quantity": 500, "reserved_quantity": 0, "position": 0},
]}


def behaviour(kind: str, seed: int | None = None, **params: Any) -> Any:
    spec = proxy_kind(kind)
    return spec.behaviour(parse_proxy_params(kind, params), seed)


def changed_paths(before: Any, after: Any, at: str = "") -> list[str]:
    """Every place where two JSON values differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [p for k in before.keys() | after.keys()
                for p in changed_paths(before.get(k), after.get(k), f"{at}.{k}")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [p for i, (b, a) in enumerate(zip(before, after, strict=True))
                for p in changed_paths(b, a, f"{at}[{i}]")]
    return [] if before == after and type(before) is type(after) else [at]


def test_the_proxy_kinds_reuse_the_replica_kinds_models() -> None:
    """latency, hang, intermittent and incorrect take their replica kind's model (same fields, same limits) plus
    where they act; refused and crash are the proxy's own."""
    shared = {"latency": LatencyParams, "hang": HangParams, "intermittent": IntermittentParams,
              "incorrect": IncorrectParams}
    assert list(PROXY_KINDS) == ["refused", "hang", "latency", "intermittent", "incorrect", "crash"]
    for kind, model in shared.items():
        proxy_model = PROXY_KINDS[kind].params
        assert issubclass(proxy_model, model)
        for name, schema in schema_of(model)["properties"].items():
            assert schema_of(proxy_model)["properties"][name] == schema, (kind, name)
        assert "paths" in schema_of(proxy_model)["properties"]


@pytest.mark.parametrize("kind, params, message", [
    ("latency", {"latency_ms": -1}, "latency_ms: must be ≥ 0"),
    ("latency", {"latency_ms": 10, "jitter_ms": 20}, "jitter_ms must not exceed latency_ms"),
    ("latency", {"paths": ["health"]}, "paths[0]: must match"),
    ("latency", {"paths": "/health"}, "paths: must be a list"),
    ("intermittent", {"probability": 1.5}, "probability: must be ≤ 1"),
    ("intermittent", {"status": 404}, "status: must be ≥ 500"),
    ("incorrect", {"delta": 0}, "delta: must not be 0"),
    ("incorrect", {"delta": 5, "value": 7}, "give delta or value, not both"),
    ("incorrect", {"field": "a..b"}, "field: must match"),
    ("incorrect", {"product_id": "x; drop"}, "product_id: must look like PROD-001"),
    ("refused", {"mode": "drop"}, "mode: must be one of"),
    ("refused", {"paths": ["/health"]}, "paths need mode reset"),
    ("crash", {"signal": "HUP"}, "signal: must be one of"),
    ("hang", {"volume": 11}, "volume: unknown field"),
    ("meteor", {}, "kind: unknown fault kind 'meteor'"),
    (None, {}, "kind: is required (one of: refused, hang, latency"),
    ("latency", {"kind": "hang"}, "kind: names another kind"),
])
def test_bad_parameters_are_refused_with_their_place(kind: Any, params: dict[str, Any], message: str) -> None:
    """Each problem is said with its place in the input (the control API answers it as a 400)."""
    with pytest.raises(Refused) as refused:
        parse_proxy_params(kind, params)
    assert message in str(refused.value)


def test_the_replica_kinds_aliases_name_the_proxy_kinds() -> None:
    """delay, error and incorrect_response (the guide's names) work as they do on a replica."""
    assert proxy_kind("delay").kind == "latency"
    assert proxy_kind("error").kind == "intermittent"
    assert proxy_kind("incorrect_response").kind == "incorrect"


def test_incorrect_rewrites_exactly_the_field_of_the_product() -> None:
    """In the shop's (and the guide's) answer, only PROD-001's available_quantity moves by delta; nothing else, not
    even its history."""
    answer = copy.deepcopy(SHOP_ANSWER)
    fault = behaviour("incorrect", product_id="PROD-001", delta=100)
    assert fault.rewrite(answer) == 1
    assert changed_paths(SHOP_ANSWER, answer) == [".inventory[0].available_quantity"]
    assert answer["inventory"][0]["available_quantity"] == 1090
    assert fault.hits == 1


@pytest.mark.parametrize("answer, params, expected", [
    ([{"product_id": "PROD-002", "available_quantity": 5}, {"product_id": "PROD-001", "available_quantity": 7}],
     {"product_id": "PROD-001", "delta": -3}, {"[1].available_quantity": 4}),
    ({"PROD-001": {"available_quantity": 7}, "PROD-002": {"available_quantity": 5}},
     {"product_id": "PROD-002", "delta": 10}, {".PROD-002.available_quantity": 15}),
    ({"product_id": "PROD-001", "available_quantity": 7, "reserved_quantity": 1},
     {"product_id": "PROD-001", "field": "reserved_quantity", "value": 99}, {".reserved_quantity": 99}),
    ({"items": [{"sku": "PROD-001", "stock": {"available": 3}}, {"sku": "PROD-003", "stock": {"available": 4}}]},
     {"product_id": "PROD-003", "product_key": "sku", "field": "stock.available", "value": "garbage"},
     {".items[1].stock.available": "garbage"}),
    ([{"product_id": "PROD-001", "available_quantity": 1}, {"product_id": "PROD-002", "available_quantity": 2}],
     {"delta": 1}, {"[0].available_quantity": 2, "[1].available_quantity": 3}),
])
def test_incorrect_finds_the_product_in_each_shape_of_answer(answer: Any, params: dict[str, Any],
                                                             expected: dict[str, Any]) -> None:
    """A list of products, products keyed by id, one product, another product key and a nested field; without a
    product, every product."""
    before = copy.deepcopy(answer)
    assert behaviour("incorrect", **params).rewrite(answer) == len(expected)
    assert sorted(changed_paths(before, answer)) == sorted(expected)


@pytest.mark.parametrize("answer", [
    {"inventory": [{"product_id": "PROD-002", "available_quantity": 5}]},  # not the product
    {"inventory": [{"product_id": "PROD-001", "available_quantity": True}]},  # not a number
    {"inventory": [{"product_id": "PROD-001"}]},  # no such field
    ["PROD-001", 5], 42, "text",
])
def test_incorrect_leaves_an_answer_without_its_field_alone(answer: Any) -> None:
    """Nothing matched: nothing changed, nothing counted."""
    before = copy.deepcopy(answer)
    fault = behaviour("incorrect", product_id="PROD-001", delta=100)
    assert fault.rewrite(answer) == 0 and answer == before and fault.hits == 0


def test_intermittent_with_a_seed_repeats_and_fails_near_its_probability() -> None:
    """The same seed fails the same requests with the chosen status; the rate is near the probability."""

    async def verdicts(seed: int) -> list[int | None]:
        fault = behaviour("intermittent", seed=seed, probability=0.3, status=503)
        return [await fault.on_request(_never) for _ in range(4000)]

    first, second, other = asyncio.run(verdicts(7)), asyncio.run(verdicts(7)), asyncio.run(verdicts(8))
    assert first == second != other
    assert set(first) == {None, 503}
    assert 0.25 < first.count(503) / len(first) < 0.35


def test_a_faults_own_seed_wins_over_the_proxys() -> None:
    """The proxy's seed is made particular to replica and kind; a seed in the parameters replaces it; describe says
    the seed in use, so the run can be repeated."""
    proxy = FaultProxy({1: "http://127.0.0.1:1", 2: "http://127.0.0.1:2"}, seed=5)
    seeds = {proxy._seed_for(r, k) for r in (1, 2) for k in ("latency", "intermittent")}
    assert len(seeds) == 4 and proxy._seed_for(1, "latency") == FaultProxy({1: "http://x:1"}, seed=5)._seed_for(
        1, "latency")
    assert FaultProxy({1: "http://127.0.0.1:1"})._seed_for(1, "latency") is None
    assert behaviour("intermittent", seed=123).describe()["params"]["seed"] == 123
    own = proxy_kind("intermittent").behaviour(parse_proxy_params("intermittent", {"seed": 9}), 123)
    assert own.describe()["params"]["seed"] == 9


def test_faults_act_on_their_paths_only() -> None:
    """Prefixes of the request path; every path when none is given; refused in reset mode resets."""
    health_only = behaviour("latency", latency_ms=1, paths=["/health"])
    assert health_only.acts_on("/health") and health_only.acts_on("/healthz")
    assert not health_only.acts_on("/inventory")
    assert behaviour("latency", latency_ms=1).acts_on("/anything")
    reset = behaviour("refused", mode="reset", paths=["/inventory"])
    assert not reset.closes_port and behaviour("refused").closes_port
    assert asyncio.run(reset.on_request(_never)) == RESET


async def _never() -> None:
    await asyncio.Event().wait()


def test_heads_are_parsed_and_framing_read() -> None:
    """Request and answer heads: names lower-cased, keep-alive by version and Connection; a conflicting
    Content-Length or a head that is not HTTP/1.x is refused."""
    request = parse_head(b"GET /inventory?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", request=True)
    assert request.path == "/inventory" and request.headers[b"host"] == b"a" and request.close
    old = parse_head(b"GET / HTTP/1.0\r\n\r\n", request=True)
    assert old.close
    answer = parse_head(b"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n", request=False)
    assert answer.status == 204 and not answer.close
    for bad, as_request in [(b"GET / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n", True),
                            (b"SSH-2.0-OpenSSH\r\n\r\n", True), (b"HTTP/1.1 OK\r\n\r\n", False),
                            (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", True)]:
        with pytest.raises(ProtocolError):
            parse_head(bad, as_request)


def _stream(data: bytes) -> Stream:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return Stream(reader)


def test_bodies_are_read_by_their_framing_and_pipelined_bytes_kept() -> None:
    """Content-Length, chunked (kept as received, decoded on demand), to the end of the stream, none for HEAD or
    204; a second pipelined request waits in the buffer."""

    async def run() -> None:
        stream = _stream(b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n")
        first = await read_request(stream, _no_continue)
        second = await read_request(stream, _no_continue)
        assert (first.body, second.path, second.body) == (b"abc", "/b", b"")
        chunked = b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n"
        answer = await read_answer(_stream(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked),
                                   b"GET")
        assert answer.body == chunked and answer.payload() == b"wikipedia" and not answer.close
        to_end = await read_answer(_stream(b"HTTP/1.0 200 OK\r\n\r\n{\"a\": 1}"), b"GET")
        assert to_end.body == b'{"a": 1}' and to_end.close
        head = await read_answer(_stream(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"), b"HEAD")
        assert head.body == b""
        interim = await read_answer(_stream(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), b"GET")
        assert interim.status == 204
        with pytest.raises(ProtocolError):
            await read_answer(_stream(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"), b"GET")

    asyncio.run(run())


async def _no_continue() -> None:
    raise AssertionError("no 100-continue expected")


def test_a_decoded_body_is_sent_again_with_its_length() -> None:
    """gzip undone, chunks joined; compose drops the old framing and content-encoding and sets Content-Length."""
    message = Message(b"", [b"HTTP/1.1", b"200", b"OK"], {b"content-encoding": b"gzip", b"x-a": b"1"},
                      body=gzip.compress(b'{"a": 1}'))
    assert message.payload() == b'{"a": 1}'
    assert dechunk(b"3\r\nabc\r\n0\r\n\r\n") == b"abc"
    sent = compose(b"HTTP/1.1 200 OK", {**message.headers, b"transfer-encoding": b"chunked"}, b"{}",
                   drop=(b"content-encoding",))
    assert sent == b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 2\r\n\r\n{}"


def test_the_command_lines_replicas_ports_and_pids() -> None:
    """--upstream and --pid take N=VALUE; --ports a range, a first port or N=PORT pairs, one per replica."""
    assert pairs(["1=http://a:1", "3=http://b:2"], "--upstream") == {1: "http://a:1", 3: "http://b:2"}
    assert parse_ports(None, [1, 2, 3]) == {1: 6001, 2: 6002, 3: 6003}
    assert parse_ports("7001-7003", [1, 2, 3]) == {1: 7001, 2: 7002, 3: 7003}
    assert parse_ports("7001", [2, 5]) == {2: 7001, 5: 7002}
    assert parse_ports("1=9001,2=9005", [1, 2]) == {1: 9001, 2: 9005}
    assert parse_pids(["1=4242", "2=run/pids/inventory-svc-2.pid"]) == {1: 4242, 2: Path("run/pids/inventory-svc-2.pid")}
    for bad in (["1"], ["x=http://a"], ["0=http://a"], ["1=a", "1=b"]):
        with pytest.raises(ValueError):
            pairs(bad, "--upstream")
    for text, replicas in (("7001-7002", [1, 2, 3]), ("1=9001", [1, 2]), ("9001,9002", [1, 2]), ("70000", [1]),
                           ("1=9001,2=9001", [1, 2])):
        with pytest.raises(ValueError):
            parse_ports(text, replicas)
