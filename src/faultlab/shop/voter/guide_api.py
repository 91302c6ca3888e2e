"""The guide's fields on a voted answer and on the voting statistics (its paths are handlers in `api.py`):
`GET /inventory/{product_id}`, `GET /inventory`, `GET /voting-stats`.

The same voted read as `/inventory/voted…` (value majority at equal positions; 503 "quorum not reached"), with
the guide's fields added to faultlab's answer: `success`, `data` (product_id, available_quantity,
reserved_quantity, timestamp, voted_by — or the `inventory` list), `quorum_achieved`, `successful_responses`,
`failed_responses`, `outliers_detected`, `voting_metrics`, `total_time_ms`, `request_id`.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from faultlab.core.guide import iso

_request_ids = itertools.count(1)


def guide_fields(body: dict[str, Any], product_id: str | None, votes_needed: int, fan_out: int) -> dict[str, Any]:
    """The guide's fields for one voted answer (faultlab's `body`), for one product or for the whole stock."""
    quorum = bool(body.get("quorum"))
    agreed = list(body.get("agreed") or [])
    failed, late = len(body.get("failed") or {}), len(body.get("late") or [])
    fields: dict[str, Any] = {
        "success": quorum,
        "quorum_achieved": quorum,
        "successful_responses": fan_out - failed - late,  # answered before the vote ended (`late` came after)
        "failed_responses": failed,
        "required_quorum": votes_needed,
        "outliers_detected": list(body.get("outliers") or []) or None,
        "voting_metrics": {"participating_instances": [str(r) for r in agreed],
                           "total_time_ms": body.get("latency_ms")},
        "total_time_ms": round(float(body.get("latency_ms") or 0.0)),
        "request_id": f"req_{int(time.time() * 1000)}_{next(_request_ids)}",
    }
    if not quorum:
        return fields
    voted_by = ",".join(str(r) for r in agreed)
    if product_id is not None:
        fields["data"] = {"product_id": body["product_id"], "available_quantity": body["available_quantity"],
                          "reserved_quantity": body["reserved_quantity"], "timestamp": iso(), "voted_by": voted_by}
    else:
        fields["data"] = {"inventory": [{"product_id": i["product_id"], "available_quantity": i["available_quantity"],
                                         "reserved_quantity": i["reserved_quantity"]} for i in body["inventory"]],
                          "timestamp": iso(), "voted_by": "majority"}
    return fields


def voting_stats(stats: dict[str, Any], min_ms: float | None) -> dict[str, Any]:
    """The guide's `voting_stats` block from faultlab's `/voting/stats` (since the voter started)."""
    latency = stats.get("latency_ms") or {}
    return {"total_requests": stats.get("total_votes", 0), "avg_response_time": latency.get("avg"),
            "max_response_time": latency.get("max"), "min_response_time": min_ms,
            "quorum_reached": stats.get("quorum_reached", 0), "quorum_not_reached": stats.get("quorum_not_reached", 0)}
