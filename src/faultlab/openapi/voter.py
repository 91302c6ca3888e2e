"""The voter's API: majority-voted stock reads (or an explicit "quorum not reached") and voting statistics."""

from __future__ import annotations

from typing import Any

from faultlab.core.config import Settings
from faultlab.openapi import (
    ANY_OBJECT,
    PRODUCT_ID_PATTERN,
    common_paths,
    document,
    errors,
    health_schema,
    json_body,
    ref,
)

REPLICAS = {"type": "array", "items": {"type": "integer", "minimum": 1}}
STALENESS = ("how long before the read began a majority may have held a newer version (0: current); at most "
             "max_staleness_ms")


def openapi_document(settings: Settings) -> dict[str, Any]:
    product_ids = sorted(settings.initial_stock)
    vote_fields = {
        "quorum": {"type": "boolean"}, "votes_needed": {"type": "integer"}, "agreed": REPLICAS,
        "disagreed": REPLICAS, "behind": REPLICAS, "late": REPLICAS, "outliers": REPLICAS, "suspected": REPLICAS,
        "failed": {"type": "object", "additionalProperties": {
            "enum": ["refused", "timeout", "error", "malformed"]}},
        "latency_ms": {"type": "number", "minimum": 0}, "timestamp": {"type": "string"},
    }
    required = ["quorum", "votes_needed", "agreed", "disagreed", "failed", "latency_ms"]
    product_vote = {
        "type": "object", "required": ["product_id", "quorum"],
        "properties": {
            "product_id": {"type": "string"}, "quorum": {"type": "boolean"},
            "available_quantity": {"type": ["integer", "null"]}, "reserved_quantity": {"type": ["integer", "null"]},
            "position": {"type": ["integer", "null"], "description": "the version the majority agreed on"},
            "stale": {"type": "boolean", "description": "a newer version was reported: only an older one could be "
                                                        "agreed (within max_staleness_ms)"},
            "staleness_ms": {"type": ["integer", "null"], "minimum": 0, "description": STALENESS},
            "newer_position": {"type": "integer", "description": "the newer version known (stale, or below the "
                                                                 "floor)"},
            "agreed": REPLICAS, "disagreed": REPLICAS, "behind": REPLICAS, "conflicting": REPLICAS},
    }
    voted_all = {"type": "object", "required": [*required, "inventory"],
                 "properties": {**vote_fields, "quorum": {"const": True},
                                "inventory": {"type": "array", "items": ref("ProductVote")}}}
    voted_one = {"type": "object", "required": [*required, "product_id", "available_quantity", "position"],
                 "properties": {**vote_fields, "quorum": {"const": True}, "product_id": {"type": "string"},
                                "available_quantity": {"type": "integer"}, "reserved_quantity": {"type": "integer"},
                                "position": {"type": "integer"},
                                "staleness_ms": {"type": "integer", "minimum": 0, "description": STALENESS}}}
    guide_common = {"success": {"type": "boolean"}, "quorum_achieved": {"type": "boolean"},
                    "successful_responses": {"type": "integer"}, "failed_responses": {"type": "integer"},
                    "required_quorum": {"type": "integer"}, "outliers_detected": {"anyOf": [REPLICAS, {"type": "null"}]},
                    "voting_metrics": ANY_OBJECT, "total_time_ms": {"type": "integer"}, "request_id": {"type": "string"}}
    guide_ok = {"type": "object", "required": ["success", "data", "quorum_achieved", "request_id"],
                "properties": {**guide_common, "success": {"const": True}, "data": ANY_OBJECT}}
    guide_no_quorum = json_body({"allOf": [ref("NoQuorum"), {"type": "object", "required": ["success"],
                                                              "properties": {**guide_common,
                                                                             "success": {"const": False}}}]},
                                "quorum not reached (the guide's fields added)")
    no_quorum = json_body(ref("NoQuorum"), "quorum not reached: fewer than a majority of replicas agree; the voter "
                                           "does not guess")
    health = health_schema("voter", "voter-svc", replicas=REPLICAS)
    stats = {"type": "object", "required": ["total_votes", "quorum_reached", "quorum_not_reached", "votes_needed",
                                            "fan_out", "latency_ms", "replicas"],
             "properties": {"total_votes": {"type": "integer"}, "quorum_reached": {"type": "integer"},
                            "quorum_not_reached": {"type": "integer"}, "quorum_rate": {"type": ["number", "null"]},
                            "votes_needed": {"type": "integer"}, "fan_out": {"type": "integer"},
                            "fan_outs": {"type": "integer", "description": "fan-outs sent to the replicas"},
                            "coalesced": {"type": "integer", "description": "reads answered by a fan-out another "
                                          "read had sent (concurrent reads of the same products; each held to its "
                                          "own floor and staleness bound)"},
                            "lag_rounds": {"type": "integer", "description": "times replicas too far apart to "
                                           "share a version were asked again (a laggard is not wrong)"},
                            "stale_answers": {"type": "integer", "description": "answers flagged stale"},
                            "refused_older": {"type": "integer", "description": "reads refused: below the floor"},
                            "refused_stale": {"type": "integer", "description": "reads refused: superseded longer "
                                              "than max_staleness_ms before they began"},
                            "max_staleness_ms": {"type": "integer"},
                            "latency_ms": ANY_OBJECT, "outliers_by_replica": ANY_OBJECT,
                            "latency_outliers": REPLICAS, "replicas": ANY_OBJECT}}
    paths = {
        "/inventory/voted": {"get": {
            "summary": "Every product's stock by value majority (2 of 3) at equal versions",
            "operationId": "votedInventory",
            "responses": {"200": json_body(voted_all, "the majority's answer, with outliers named"),
                          "503": no_quorum}}},
        "/inventory/voted/{product_id}": {"get": {
            "summary": "One product's stock by value majority", "operationId": "votedProduct",
            "parameters": [{"name": "product_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": PRODUCT_ID_PATTERN},
                            "description": f"one of {', '.join(product_ids)}; another id is answered 404"}],
            "responses": {"200": json_body(voted_one, "the majority's answer"), "503": no_quorum,
                          "404": json_body({"allOf": [ref("Error"), {"type": "object", "properties": {
                              "known": {"type": "array", "items": {"type": "string"}}}}]},
                              "unknown product (`known` lists them)"), **errors(400)}}},
        "/voting/stats": {"get": {"summary": "Votes, quorum rate, latency and each replica's record",
                                  "operationId": "votingStats", "responses": {"200": json_body(stats, "stats")}}},
        "/inventory": {"get": {
            "summary": "The guide's path: /inventory/voted with the guide's fields added", "operationId": "guideInventory",
            "responses": {"200": json_body({"allOf": [voted_all, guide_ok]}, "the majority's answer"),
                          "503": guide_no_quorum}}},
        "/inventory/{product_id}": {"get": {
            "summary": "The guide's path: /inventory/voted/{product_id} with the guide's fields added",
            "operationId": "guideProduct",
            "parameters": [{"name": "product_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": PRODUCT_ID_PATTERN},
                            "description": f"one of {', '.join(product_ids)}; another id is answered 404"}],
            "responses": {"200": json_body({"allOf": [voted_one, guide_ok]}, "the majority's answer"),
                          "503": guide_no_quorum,
                          "404": json_body(ref("Error"), "unknown product"), **errors(400)}}},
        "/voting-stats": {"get": {
            "summary": "The guide's path: /voting/stats plus the guide's voting_stats block",
            "operationId": "guideVotingStats",
            "responses": {"200": json_body({"allOf": [stats, {"type": "object", "required": ["voting_stats"],
                                                              "properties": {"voting_stats": ANY_OBJECT}}]},
                                           "stats")}}},
        **common_paths(health),
    }
    schemas = {
        "ProductVote": product_vote,
        "NoQuorum": {"type": "object",
                     "required": [*required, "error", "answered", "conflicting", "inventory", "reasons", "reason"],
                     "properties": {**vote_fields, "quorum": {"const": False}, "error": {"const": "quorum not reached"},
                                    "answered": REPLICAS, "conflicting": REPLICAS,
                                    "inventory": {"type": "array", "items": ref("ProductVote")},
                                    "reasons": {"type": "array", "items": ref("NoQuorumReason")},
                                    "reason": {"type": "string", "description": "the reasons in one sentence"}}},
        "NoQuorumReason": {
            "type": "object", "required": ["code", "text"],
            "description": "too_few_answers (answered, needed); no_majority (product_id); below_floor (product_id, "
                           "position, floor: the oldest version this read could answer — what the voter answered "
                           "before, or what a majority held when it started); superseded (product_id, position, "
                           "staleness_ms, max_staleness_ms)",
            "properties": {"code": {"enum": ["too_few_answers", "no_majority", "below_floor", "superseded"]},
                           "text": {"type": "string"}, "product_id": {"type": "string"},
                           "position": {"type": ["integer", "null"]}, "floor": {"type": "integer"},
                           "staleness_ms": {"type": "integer"}, "max_staleness_ms": {"type": "integer"},
                           "answered": {"type": "integer"}, "needed": {"type": "integer"}}},
    }
    return document("faultlab voter", "Majority voting over the inventory replicas. Read-only; no operator "
                    "endpoint.", settings.service_url("voter"), paths, schemas, operator=False)
