"""orders-svc: the guide's orders API, a Flask app that stores an order in PostgreSQL, then publishes it to Kafka."""

import json
import logging
import os
import uuid
from datetime import UTC, datetime

import psycopg2
import psycopg2.pool
from confluent_kafka import Producer
from flask import Flask, jsonify, request

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "5006"))
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5433/experimento")
KAFKA_BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9093")
ORDER_TOPIC = "order-events"
MAX_QUANTITY = 10000

app = Flask(__name__)
logging.basicConfig(level=logging.INFO, format="%(asctime)s orders-svc %(levelname)s %(message)s")
logging.getLogger("werkzeug").setLevel(logging.WARNING)
log = logging.getLogger("orders-svc")
pool = psycopg2.pool.ThreadedConnectionPool(1, 20, DATABASE_URL)
producer = Producer({"bootstrap.servers": KAFKA_BOOTSTRAP_SERVERS})


def now_iso():
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def query(sql, params=(), fetch=False):
    """Run one statement in its own transaction; the rows when `fetch`, else the row count."""
    conn = pool.getconn()
    broken = False
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            result = cur.fetchall() if fetch else cur.rowcount
        conn.commit()
        return result
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True
        raise
    except Exception:
        conn.rollback()
        raise
    finally:
        pool.putconn(conn, close=broken)


def publish(event):
    """Publish after the commit, as the guide does (no outbox): if Kafka is away the event is lost, the order kept."""
    producer.produce(ORDER_TOPIC, json.dumps(event).encode(), key=event["product_id"].encode())
    if producer.flush(5) > 0:
        log.error("event not delivered to %s: %s", ORDER_TOPIC, event)


def order_json(row):
    order_id, product_id, quantity, customer_id, status, created_at, updated_at = row
    return {"order_id": str(order_id), "product_id": product_id, "quantity": quantity, "customer_id": customer_id,
            "status": status, "created_at": created_at.isoformat(), "updated_at": updated_at.isoformat()}


def find_order(order_id):
    try:
        uuid.UUID(order_id)
    except ValueError:
        return None
    rows = query("SELECT order_id, product_id, quantity, customer_id, status, created_at, updated_at "
                 "FROM orders WHERE order_id = %s", (order_id,), fetch=True)
    return order_json(rows[0]) if rows else None


@app.route("/health", methods=["GET"])
def health():
    return jsonify({"status": "UP", "service": "orders-svc", "timestamp": now_iso()})


@app.route("/orders", methods=["POST"])
def create_order():
    """The guide's steps: validate, store, publish to Kafka, answer."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "the body must be a JSON object"}), 400
    product_id, quantity, customer_id = body.get("product_id"), body.get("quantity"), body.get("customer_id")
    if not isinstance(product_id, str) or not 0 < len(product_id) <= 32:
        return jsonify({"error": "product_id must be a string of 1 to 32 characters"}), 400
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        return jsonify({"error": f"quantity must be a whole number from 1 to {MAX_QUANTITY}"}), 400
    if customer_id is not None and (not isinstance(customer_id, str) or len(customer_id) > 64):
        return jsonify({"error": "customer_id must be a string of at most 64 characters"}), 400
    if not query("SELECT 1 FROM inventory WHERE product_id = %s", (product_id,), fetch=True):
        return jsonify({"error": "unknown product", "product_id": product_id}), 400
    order_id = str(uuid.uuid4())
    rows = query("INSERT INTO orders (order_id, product_id, quantity, customer_id) VALUES (%s, %s, %s, %s) "
                 "RETURNING order_id, product_id, quantity, customer_id, status, created_at, updated_at",
                 (order_id, product_id, quantity, customer_id), fetch=True)
    order = order_json(rows[0])
    publish({"event_type": "order_created", "order_id": order_id, "product_id": product_id, "quantity": quantity,
             "customer_id": customer_id, "timestamp": now_iso()})
    return jsonify({**order, "message": "Order created"}), 201


@app.route("/orders/<order_id>", methods=["GET"])
def get_order(order_id):
    order = find_order(order_id)
    if order is None:
        return jsonify({"error": "Order not found"}), 404
    return jsonify(order)


@app.route("/orders/<order_id>", methods=["DELETE"])
def cancel_order(order_id):
    """Cancel: mark the order CANCELLED and publish the cancellation, so the replicas release its stock."""
    order = find_order(order_id)
    if order is None:
        return jsonify({"error": "Order not found"}), 404
    changed = query("UPDATE orders SET status = 'CANCELLED', updated_at = now() "
                    "WHERE order_id = %s AND status <> 'CANCELLED'", (order_id,))
    if not changed:
        return jsonify({"error": "Order already cancelled", "order_id": order_id}), 409
    publish({"event_type": "order_cancelled", "order_id": order_id, "product_id": order["product_id"],
             "quantity": order["quantity"], "timestamp": now_iso()})
    return jsonify({**find_order(order_id), "message": "Order cancelled"})


if __name__ == "__main__":
    app.run(host=HOST, port=PORT, threaded=True)
