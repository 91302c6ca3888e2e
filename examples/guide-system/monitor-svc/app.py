"""monitor-svc: the guide's monitor, a Flask app polling each replica's /health every 200 ms, OFF after 3 failures."""

import json
import logging
import os
import threading
import time
from datetime import UTC, datetime

import psycopg2
import requests
from confluent_kafka import Consumer, KafkaException, TopicPartition
from flask import Flask, jsonify

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "5004"))
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5433/experimento")
KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9093")
INVENTORY_URLS = os.environ.get(
    "INVENTORY_URLS", "http://127.0.0.1:5001,http://127.0.0.1:5002,http://127.0.0.1:5003").split(",")
HEALTH_INTERVAL_MS = int(os.environ.get("HEALTH_INTERVAL_MS", "200"))
HEALTH_TIMEOUT_S = float(os.environ.get("HEALTH_TIMEOUT_S", "1.0"))
FAILURE_THRESHOLD = int(os.environ.get("FAILURE_THRESHOLD", "3"))
ERROR_TOPIC = "error-queue"

app = Flask(__name__)
logging.basicConfig(level=logging.INFO, format="%(asctime)s monitor-svc %(levelname)s %(message)s")
logging.getLogger("werkzeug").setLevel(logging.WARNING)
log = logging.getLogger("monitor-svc")
lock = threading.Lock()
instances = [{"service_name": "inventory-svc", "instance_id": str(n), "instance_name": f"inventory-svc-{n}",
              "url": url, "status": "UNKNOWN", "since": None, "consecutive_failures": 0,
              "last_health_check": None, "last_error": None}
             for n, url in enumerate(INVENTORY_URLS, start=1)]
error_queue = {"consumed": 0, "last": None}


def now_iso():
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Database:
    """The monitor's one connection, opened again after an error."""

    def __init__(self):
        self.conn = None

    def run(self, sql, params=()):
        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg2.connect(DATABASE_URL, connect_timeout=2)
                self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        except psycopg2.Error as error:
            log.warning("database: %s", error)
            self.close()
            return None

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def check(instance):
    """One health check: True when /health answers 200 within HEALTH_TIMEOUT_S."""
    try:
        response = requests.get(f"{instance['url']}/health", timeout=HEALTH_TIMEOUT_S)
        if response.status_code == 200:
            return True, None
        return False, f"HTTP {response.status_code}"
    except requests.RequestException as error:
        return False, type(error).__name__


def record(database, instance, ok, error):
    """Count the result, turn the instance OFF at FAILURE_THRESHOLD failures in a row and ON at the next success."""
    with lock:
        before = instance["status"]
        instance["last_health_check"] = now_iso()
        if ok:
            instance["consecutive_failures"] = 0
            instance["last_error"] = None
            instance["status"] = "ON"
        else:
            instance["consecutive_failures"] += 1
            instance["last_error"] = error
            if instance["consecutive_failures"] >= FAILURE_THRESHOLD:
                instance["status"] = "OFF"
        after = instance["status"]
        if after != before:
            instance["since"] = instance["last_health_check"]
        row = (after, instance["consecutive_failures"], "inventory-svc", instance["instance_id"])
    database.run("UPDATE instance_status SET status = %s, consecutive_failures = %s, last_health_check = now(), "
                 "updated_at = now() WHERE service_name = %s AND instance_id = %s", row)
    if after == "OFF" and before != "OFF":
        log.warning("%s OFF after %d failures (%s)", instance["instance_name"], FAILURE_THRESHOLD, error)
        database.run("INSERT INTO failure_audit (service_name, instance_id, failure_type, details) "
                     "VALUES ('inventory-svc', %s, 'health_check', %s)", (instance["instance_id"], error))
    elif after == "ON" and before == "OFF":
        log.info("%s ON again", instance["instance_name"])
        database.run("UPDATE failure_audit SET resolved_at = now() WHERE service_name = 'inventory-svc' "
                     "AND instance_id = %s AND resolved_at IS NULL", (instance["instance_id"],))


def health_check_worker():
    """The guide's worker: check every replica in turn, then wait HEALTH_INTERVAL_MS, forever."""
    database = Database()
    for instance in instances:
        database.run("INSERT INTO instance_status (service_name, instance_id) VALUES ('inventory-svc', %s) "
                     "ON CONFLICT DO NOTHING", (instance["instance_id"],))
    while True:
        for instance in instances:
            ok, error = check(instance)
            record(database, instance, ok, error)
        time.sleep(HEALTH_INTERVAL_MS / 1000.0)


def consume_error_queue():
    """The guide's "consumo de cola de errores": count and log what the replicas report."""
    consumer = Consumer({"bootstrap.servers": KAFKA_BOOTSTRAP_SERVERS, "group.id": "monitor-svc",
                         "enable.auto.commit": True, "auto.offset.reset": "earliest"})
    while True:
        try:
            consumer.list_topics(ERROR_TOPIC, timeout=5)
            consumer.assign([TopicPartition(ERROR_TOPIC, 0)])
            break
        except KafkaException as error:
            log.warning("cannot reach Kafka yet: %s", error)
            time.sleep(1)
    while True:
        message = consumer.poll(1.0)
        if message is None or message.error():
            continue
        try:
            report = json.loads(message.value())
        except ValueError:
            report = {"raw": message.value().decode(errors="replace")}
        log.warning("error-queue: %s", report)
        with lock:
            error_queue["consumed"] += 1
            error_queue["last"] = report


@app.route("/health", methods=["GET"])
def health():
    return jsonify({"status": "UP", "service": "monitor-svc", "timestamp": now_iso()})


@app.route("/status", methods=["GET"])
def status():
    with lock:
        rows = [{k: v for k, v in instance.items() if k != "url"} for instance in instances]
        errors = dict(error_queue)
    return jsonify({"instances": rows, "health_interval_ms": HEALTH_INTERVAL_MS,
                    "health_timeout_ms": round(HEALTH_TIMEOUT_S * 1000), "failure_threshold": FAILURE_THRESHOLD,
                    "error_queue": errors, "timestamp": now_iso()})


@app.route("/failures", methods=["GET"])
def failures():
    database = Database()
    rows = database.run("SELECT service_name, instance_id, failure_type, detected_at, resolved_at, details "
                        "FROM failure_audit ORDER BY detected_at DESC LIMIT 100")
    database.close()
    if rows is None:
        return jsonify({"error": "database unavailable"}), 503
    keys = ("service_name", "instance_id", "failure_type", "detected_at", "resolved_at", "details")
    rows = [dict(zip(keys, row, strict=True)) for row in rows]
    return jsonify({"failures": [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
                                 for row in rows]})


if __name__ == "__main__":
    threading.Thread(target=health_check_worker, name="health-checks", daemon=True).start()
    threading.Thread(target=consume_error_queue, name="error-queue", daemon=True).start()
    app.run(host=HOST, port=PORT, threaded=True)
