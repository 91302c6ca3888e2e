"""inventory-svc: one of the guide's three inventory replicas, a Flask app that reserves stock in the shared table."""

import json
import logging
import os
import random
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg2
import psycopg2.pool
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from flask import Flask, jsonify, request

INSTANCE_ID = os.environ.get("INSTANCE_ID", "1")
SERVICE_NAME = f"inventory-svc-{INSTANCE_ID}"
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "5001"))
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5433/experimento")
KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9093")
ORDER_TOPIC = "order-events"
ERROR_TOPIC = "error-queue"

# The guide's fault injection: module-level variables, one fault at a time, set by POST /inject-failure.
FAILURE_TYPE = None
LATENCY_MS = 1200
FAILURE_PROBABILITY = 0.3
INCORRECT_PRODUCT = None  # None: every product answers wrong
INCORRECT_QUANTITY = -999  # what an `incorrect_response` replica answers, without reading the database
KINDS = {"crash": "crash", "latency": "latency", "intermittent": "intermittent",
         "incorrect": "incorrect_response", "incorrect_response": "incorrect_response",
         "clear": None, "none": None}
CRASH_DELAY_S = 0.1  # the 200 answer leaves first, then the process exits

# An event is applied and its offset committed under this lock, and a crash takes it first: a crash never
# leaves an event applied whose offset was not committed (it would be reserved a fourth time after a restart).
APPLY_LOCK = threading.Lock()

app = Flask(__name__)
logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {SERVICE_NAME} %(levelname)s %(message)s")
logging.getLogger("werkzeug").setLevel(logging.WARNING)
log = logging.getLogger(SERVICE_NAME)
pool = psycopg2.pool.ThreadedConnectionPool(1, 20, DATABASE_URL)
producer = Producer({"bootstrap.servers": KAFKA_BOOTSTRAP_SERVERS})
counters = {"events_processed": 0}


class IntermittentError(Exception):
    """The `intermittent` fault fired on this request."""


def now_iso():
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextmanager
def db():
    """A connection from the pool, committed on success; a broken one is thrown away."""
    conn = pool.getconn()
    broken = False
    try:
        yield conn
        conn.commit()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True
        raise
    except Exception:
        conn.rollback()
        raise
    finally:
        pool.putconn(conn, close=broken)


def crash():
    with APPLY_LOCK:
        os._exit(1)


def check_failure_injection():
    """The guide's check, run first by every request but /inject-failure."""
    if FAILURE_TYPE == "crash":
        crash()
    elif FAILURE_TYPE == "latency":
        time.sleep(LATENCY_MS / 1000.0)
    elif FAILURE_TYPE == "intermittent" and random.random() < FAILURE_PROBABILITY:
        raise IntermittentError("Intermittent error")


def answers_wrong(product_id):
    return FAILURE_TYPE == "incorrect_response" and INCORRECT_PRODUCT in (None, product_id)


def incorrect_row(product_id):
    return {"product_id": product_id, "available_quantity": INCORRECT_QUANTITY,
            "reserved_quantity": INCORRECT_QUANTITY}


@app.errorhandler(IntermittentError)
def intermittent_error(error):
    return jsonify({"error": str(error), "service": SERVICE_NAME, "instance_id": INSTANCE_ID}), 500


@app.route("/health", methods=["GET"])
def health():
    check_failure_injection()
    return jsonify({"status": "UP", "service": SERVICE_NAME, "instance_id": INSTANCE_ID, "timestamp": now_iso(),
                    "failure_injected": FAILURE_TYPE is not None, "failure_type": FAILURE_TYPE,
                    "events_processed": counters["events_processed"]})


@app.route("/inventory", methods=["GET"])
def get_inventory():
    check_failure_injection()
    with db() as conn, conn.cursor() as cur:
        cur.execute("SELECT product_id, available_quantity, reserved_quantity FROM inventory ORDER BY product_id")
        rows = [{"product_id": p, "available_quantity": a, "reserved_quantity": r} for p, a, r in cur.fetchall()]
    rows = [incorrect_row(row["product_id"]) if answers_wrong(row["product_id"]) else row for row in rows]
    return jsonify({"inventory": rows, "service": SERVICE_NAME, "instance_id": INSTANCE_ID, "timestamp": now_iso()})


@app.route("/inventory/<product_id>", methods=["GET"])
def get_product(product_id):
    check_failure_injection()
    if answers_wrong(product_id):
        row = incorrect_row(product_id)
    else:
        with db() as conn, conn.cursor() as cur:
            cur.execute("SELECT available_quantity, reserved_quantity FROM inventory WHERE product_id = %s",
                        (product_id,))
            found = cur.fetchone()
        if found is None:
            return jsonify({"error": "Product not found", "product_id": product_id[:64]}), 404
        row = {"product_id": product_id, "available_quantity": found[0], "reserved_quantity": found[1]}
    return jsonify({**row, "service": SERVICE_NAME, "instance_id": INSTANCE_ID, "timestamp": now_iso()})


def bad_request(message):
    return jsonify({"error": message}), 400


def number(body, name, default, low, high):
    """A numeric field of the body within [low, high], else a ValueError naming it."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low} to {high}")
    return value


@app.route("/inject-failure", methods=["POST"])
def inject_failure():
    """The guide's fault endpoint: {"type": kind, ...}; answers 200 with the fault now in place."""
    global FAILURE_TYPE, LATENCY_MS, FAILURE_PROBABILITY, INCORRECT_PRODUCT
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return bad_request("the body must be a JSON object")
    names = {body[k] for k in ("type", "failure_type") if k in body}
    if len(names) != 1:
        return bad_request("give the fault in 'type' (or 'failure_type'), once")
    name = names.pop()
    if not isinstance(name, str) or name not in KINDS:
        return bad_request(f"unknown fault type; known: {', '.join(KINDS)}")
    kind = KINDS[name]
    try:
        latency_ms = number(body, "latency_ms", 1200, 1, 60000) if kind == "latency" else LATENCY_MS
        probability = number(body, "probability", 0.3, 0, 1) if kind == "intermittent" else FAILURE_PROBABILITY
    except ValueError as error:
        return bad_request(str(error))
    product_id = body.get("product_id") if kind == "incorrect_response" else None
    if product_id is not None and (not isinstance(product_id, str) or not 0 < len(product_id) <= 32):
        return bad_request("product_id must be a product id (a string of 1 to 32 characters)")
    FAILURE_TYPE, LATENCY_MS, FAILURE_PROBABILITY, INCORRECT_PRODUCT = kind, latency_ms, probability, product_id
    log.info("failure injection: type=%s latency_ms=%s probability=%s product_id=%s",
             kind, latency_ms, probability, product_id)
    if kind == "crash":
        threading.Timer(CRASH_DELAY_S, crash).start()
    answer = {"message": f"Failure injection updated for {SERVICE_NAME}", "failure_injected": kind is not None,
              "failure_type": kind, "instance_id": INSTANCE_ID, "timestamp": now_iso()}
    if kind == "latency":
        answer["latency_ms"] = latency_ms
    elif kind == "intermittent":
        answer["probability"] = probability
    elif kind == "incorrect_response":
        answer["product_id"] = product_id
    return jsonify(answer)


def publish_error(event, error):
    payload = {"service": SERVICE_NAME, "instance_id": INSTANCE_ID, "error": error, "event": event,
               "timestamp": now_iso()}
    producer.produce(ERROR_TOPIC, json.dumps(payload).encode())
    producer.flush(5)


def process_order_event(event):
    """The guide's step 3: reserve (or release) the stock of one order, in the ONE shared inventory table."""
    kind, product_id, quantity = event.get("event_type"), event.get("product_id"), event.get("quantity")
    if kind == "order_created":
        sql = ("UPDATE inventory SET available_quantity = available_quantity - %(q)s, "
               "reserved_quantity = reserved_quantity + %(q)s, updated_at = now() "
               "WHERE product_id = %(p)s AND available_quantity >= %(q)s")
    elif kind == "order_cancelled":
        sql = ("UPDATE inventory SET available_quantity = available_quantity + %(q)s, "
               "reserved_quantity = reserved_quantity - %(q)s, updated_at = now() "
               "WHERE product_id = %(p)s AND reserved_quantity >= %(q)s")
    else:
        publish_error(event, f"unknown event_type {kind!r}")
        return
    with db() as conn, conn.cursor() as cur:
        cur.execute(sql, {"q": quantity, "p": product_id})
        done = cur.rowcount == 1
    counters["events_processed"] += 1
    if not done:
        publish_error(event, "insufficient stock" if kind == "order_created" else "nothing reserved to release")


def consume_order_events():
    """The guide's step 1: consume order-events from where this replica's group left off (partition 0)."""
    consumer = Consumer({"bootstrap.servers": KAFKA_BOOTSTRAP_SERVERS, "group.id": SERVICE_NAME,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100})
    while True:
        try:
            consumer.list_topics(ORDER_TOPIC, timeout=5)
            consumer.assign([TopicPartition(ORDER_TOPIC, 0)])
            break
        except KafkaException as error:
            log.warning("cannot reach Kafka yet: %s", error)
            time.sleep(1)
    log.info("consuming %s", ORDER_TOPIC)
    while True:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            log.warning("consumer error: %s", message.error())
            continue
        with APPLY_LOCK:
            try:
                event = json.loads(message.value())
                process_order_event(event)
            except (ValueError, AttributeError, psycopg2.Error) as error:
                log.error("could not process an order event: %s", error)
                publish_error(message.value().decode(errors="replace"), str(error))
            consumer.commit(message=message, asynchronous=False)


if __name__ == "__main__":
    threading.Thread(target=consume_order_events, name="order-events", daemon=True).start()
    app.run(host=HOST, port=PORT, threaded=True)
