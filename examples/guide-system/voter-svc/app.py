"""voter-svc: the guide's voter, a Flask app that asks the three replicas, drops 2σ outliers and averages the rest."""

import itertools
import logging
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests
from flask import Flask, jsonify

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "5005"))
INVENTORY_URLS = os.environ.get(
    "INVENTORY_URLS", "http://127.0.0.1:5001,http://127.0.0.1:5002,http://127.0.0.1:5003").split(",")
TIMEOUT_S = float(os.environ.get("VOTER_TIMEOUT_S", "2.0"))
REQUIRED_QUORUM = 2
FIELDS = ("available_quantity", "reserved_quantity")

app = Flask(__name__)
logging.basicConfig(level=logging.INFO, format="%(asctime)s voter-svc %(levelname)s %(message)s")
logging.getLogger("werkzeug").setLevel(logging.WARNING)
log = logging.getLogger("voter-svc")
executor = ThreadPoolExecutor(max_workers=32)
request_ids = itertools.count(1)
stats_lock = threading.Lock()
stats = {"total_requests": 0, "quorum_reached": 0, "quorum_not_reached": 0, "outliers_detected": 0,
         "total_time_ms": 0.0, "max_response_time": None, "min_response_time": None}


def now_iso():
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def ask(instance_id, url, path):
    """One replica's answer: (instance_id, HTTP status or None, body or error, time in ms)."""
    start = time.perf_counter()
    try:
        response = requests.get(f"{url}{path}", timeout=TIMEOUT_S)
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        return instance_id, response.status_code, body, (time.perf_counter() - start) * 1000
    except requests.RequestException as error:
        return instance_id, None, {"error": type(error).__name__}, (time.perf_counter() - start) * 1000


def fan_out(path):
    """The guide's step 1: ask every instance, and wait for every answer (each bounded by TIMEOUT_S)."""
    futures = [executor.submit(ask, str(n), url, path) for n, url in enumerate(INVENTORY_URLS, start=1)]
    return [future.result() for future in futures]


def vote(values):
    """The guide's steps 2 and 3: drop values farther than 2σ from the mean, then take the mean of the rest.

    With three values (or two) no value can be farther than 2σ from their mean, so nothing is ever dropped and
    one wrong answer always moves the result.
    """
    mean = statistics.mean(values)
    sigma = statistics.stdev(values) if len(values) > 1 else 0.0
    kept = [abs(v - mean) <= 2 * sigma for v in values]
    return round(statistics.mean([v for v, keep in zip(values, kept, strict=True) if keep])), kept


def vote_rows(rows):
    """Vote each field over the replicas' rows of one product: the voted row and the ids of the outliers."""
    voted, outliers = {}, set()
    for field in FIELDS:
        value, kept = vote([row[field] for _, row in rows])
        voted[field] = value
        outliers |= {instance_id for (instance_id, _), keep in zip(rows, kept, strict=True) if not keep}
    return voted, sorted(outliers)


def record(quorum, outliers, total_ms):
    with stats_lock:
        stats["total_requests"] += 1
        stats["quorum_reached" if quorum else "quorum_not_reached"] += 1
        stats["outliers_detected"] += len(outliers)
        stats["total_time_ms"] += total_ms
        stats["max_response_time"] = max(stats["max_response_time"] or 0.0, total_ms)
        stats["min_response_time"] = min(stats["min_response_time"] or total_ms, total_ms)


def voted_answer(path, build):
    """Fan out `path`, then vote with `build(answers)` -> (data, outliers) when a quorum answered 200."""
    start = time.perf_counter()
    results = fan_out(path)
    answers = [(instance_id, body) for instance_id, status, body, _ in results if status == 200]
    not_found = sum(1 for _, status, _, _ in results if status == 404)
    responses = [{"instance_id": instance_id, "status_code": status, "response_time_ms": round(ms, 1),
                  **{k: body.get(k) for k in (*FIELDS, "error") if k in body}}
                 for instance_id, status, body, ms in results]
    head = {"required_quorum": REQUIRED_QUORUM, "successful_responses": len(answers),
            "failed_responses": len(results) - len(answers), "responses": responses,
            "request_id": f"req_{int(time.time() * 1000)}_{next(request_ids)}"}
    if not_found >= REQUIRED_QUORUM:
        return {"success": False, "error": "Product not found", **head}, 404
    if len(answers) < REQUIRED_QUORUM:
        total_ms = (time.perf_counter() - start) * 1000
        record(False, [], total_ms)
        return {"success": False, "error": "quorum not reached", "quorum_achieved": False, **head,
                "total_time_ms": round(total_ms)}, 503
    data, outliers = build(answers)
    total_ms = (time.perf_counter() - start) * 1000
    record(True, outliers, total_ms)
    participating = [instance_id for instance_id, _ in answers]
    return {"success": True, "data": {**data, "timestamp": now_iso(), "voted_by": ",".join(participating)},
            "quorum_achieved": True, **head, "outliers_detected": outliers,
            "voting_metrics": {"participating_instances": participating, "total_time_ms": round(total_ms, 1)},
            "total_time_ms": round(total_ms)}, 200


@app.route("/health", methods=["GET"])
def health():
    return jsonify({"status": "UP", "service": "voter-svc", "timestamp": now_iso()})


@app.route("/inventory/voted/<product_id>", methods=["GET"])
def voted_product(product_id):
    def build(answers):
        row, outliers = vote_rows(answers)
        return {"product_id": product_id, **row}, outliers

    body, status = voted_answer(f"/inventory/{requests.utils.quote(product_id, safe='')}", build)
    return jsonify(body), status


@app.route("/inventory/voted", methods=["GET"])
def voted_inventory():
    def build(answers):
        by_product = {}
        for instance_id, body in answers:
            for row in body.get("inventory", []):
                by_product.setdefault(row["product_id"], []).append((instance_id, row))
        inventory, outliers = [], set()
        for product_id in sorted(by_product):
            row, flagged = vote_rows(by_product[product_id])
            inventory.append({"product_id": product_id, **row})
            outliers |= set(flagged)
        return {"inventory": inventory}, sorted(outliers)

    body, status = voted_answer("/inventory", build)
    return jsonify(body), status


@app.route("/voting/stats", methods=["GET"])
def voting_stats():
    with stats_lock:
        counted = dict(stats)
    total_time_ms = counted.pop("total_time_ms")
    counted["avg_response_time"] = total_time_ms / counted["total_requests"] if counted["total_requests"] else None
    for name in ("avg_response_time", "max_response_time", "min_response_time"):
        counted[name] = round(counted[name], 1) if counted[name] is not None else None
    return jsonify({"voting_stats": counted, "required_quorum": REQUIRED_QUORUM, "fan_out": len(INVENTORY_URLS),
                    "timeout_s": TIMEOUT_S, "timestamp": now_iso()})


if __name__ == "__main__":
    app.run(host=HOST, port=PORT, threaded=True)
