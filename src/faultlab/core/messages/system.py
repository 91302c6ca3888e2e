"""The system under test an experiment measures: faultlab's shop, or a system built to the study guide's contract.

The contract says where a guide system's services answer and how their answers read; every default is the guide's
(orders :5006, replicas :5001-5003, monitor :5004, voter :5005, `/inject-failure`, ON / OFF, ...), each one
changeable in an experiment file's `system` section or in a system file (`faultlab system check FILE`). Its text
lives here, beside the other typed messages, because the experiment file embeds it; what the lab does with it is in
`lab/systems/contract.py`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from faultlab.core.messages import Message

URL = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
PATH = r"^/[^\s]{0,300}$"
JSON_PATH = r"^$|^[^.\s\[\]]+(\[\d+\])*(\.[^.\s\[\]]+(\[\d+\])*)*$"  # a.b[0].c; "" is the answer itself
WORD = r"^\S.{0,63}$"
GUIDE_PRODUCTS = ("PROD-001", "PROD-002", "PROD-003")
GUIDE_KINDS = {"crash": "crash", "latency": "latency", "intermittent": "intermittent",
               "incorrect": "incorrect_response", "clear": "clear"}
GUIDE_PARAMS = {"latency_ms": "latency_ms", "probability": "probability", "product_id": "product_id"}
COMMAND_HELP = "a shell command; {n} is the replica's number (e.g. docker compose restart inventory-svc-{n})"


def _named_or_mapping(schema: dict[str, Any]) -> None:
    """The JSON Schema of a `system` section: `shop`, `guide`, or the mapping (editors check all three)."""
    mapping = dict(schema)
    schema.clear()
    schema["anyOf"] = [{"type": "string", "enum": ["shop", "guide"]}, mapping]


def _guide_replicas() -> list[str]:
    return [f"http://localhost:{port}" for port in (5001, 5002, 5003)]


class ProductFields(Message):
    """How one product reads in the replicas' and the voter's answers (the guide's field names by default)."""

    product: str = Field("product_id", min_length=1, description="the product's id")
    available: str = Field("available_quantity", min_length=1, description="the units that can be ordered")
    reserved: str | None = Field("reserved_quantity", min_length=1, description="the units held by orders "
                                                                                "(null: the answers have none)")
    position: str | None = Field("position", min_length=1, description="a log position or version per product, "
                                                                       "where the system has one (monotonic reads "
                                                                       "are checked with it)")


class OrdersContract(Message):
    """The orders service: orders, cancels, and (optionally) an order's status and restocks."""

    url: str = Field("http://localhost:5006", pattern=URL)
    health_path: str = Field("/health", pattern=PATH)
    create_path: str = Field("/orders", pattern=PATH, description="POST: a new order")
    order_body: dict[str, Any] = Field(
        default_factory=lambda: {"product_id": "{product_id}", "quantity": "{quantity}"},
        description="the new order's JSON body; {product_id}, {quantity} and {key} (a unique key) are filled in")
    order_id_path: str = Field("order_id", pattern=JSON_PATH, description="where the new order's id is in the "
                                                                          "answer (a.b[0].c)")
    cancel_method: Literal["DELETE", "POST"] = "DELETE"
    cancel_path: str = Field("/orders/{id}", pattern=PATH)
    status_path: str | None = Field("/orders/{id}", pattern=PATH, description="GET: one order (null: the system "
                                                                              "has none)")
    status_field: str = Field("status", pattern=JSON_PATH, description="where an order's status is in that answer")
    pending_words: list[str] = Field(default_factory=lambda: ["PENDING"], min_length=1,
                                     description="the statuses of an order not decided yet")
    restock_path: str | None = Field(None, pattern=PATH, description="POST: units added to a product (the guide "
                                                                     "has none)")
    restock_body: dict[str, Any] = Field(
        default_factory=lambda: {"product_id": "{product_id}", "quantity": "{quantity}"})


class ReplicasContract(Message):
    """The inventory replicas: where each answers, its fault endpoint, and the commands that restart or stop it."""

    urls: list[str] = Field(default_factory=_guide_replicas, min_length=1, max_length=9,
                            description="replica N is the N-th address")
    health_path: str = Field("/health", pattern=PATH)
    inventory_path: str = Field("/inventory", pattern=PATH)
    items_path: str = Field("inventory", pattern=JSON_PATH, description="where the products are in GET "
                                                                        "/inventory's answer (\"\": the answer)")
    inject_path: str = Field("/inject-failure", pattern=PATH)
    inject_body: dict[str, Any] = Field(default_factory=lambda: {"type": "{kind}"},
                                        description="the body of a fault or a clear; {kind} is the kind's name "
                                                    "below, the fault's parameters are added under their names")
    kinds: dict[str, str] = Field(default_factory=lambda: dict(GUIDE_KINDS),
                                  description="faultlab's kind → the system's name for it (clear: every fault off)")
    params: dict[str, str] = Field(default_factory=lambda: dict(GUIDE_PARAMS),
                                   description="faultlab's parameter → the system's name (others are not sent)")
    restart_command: str | None = Field(None, min_length=1, description=COMMAND_HELP)
    stop_command: str | None = Field(None, min_length=1, description=COMMAND_HELP)
    start_command: str | None = Field(None, min_length=1, description=COMMAND_HELP)
    command_timeout_s: float = Field(120.0, gt=0, le=600)

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        bad = [u for u in value if not re.match(URL, u)]
        if bad:
            raise ValueError(f"not an http:// address: {', '.join(map(repr, bad))[:200]}")
        return value

    @field_validator("restart_command", "stop_command", "start_command")
    @classmethod
    def _names_replica(cls, value: str | None) -> str | None:
        if value is not None and "{n}" not in value:
            raise ValueError("must name the replica with {n}")
        return value

    @field_validator("kinds")
    @classmethod
    def _clear_named(cls, value: dict[str, str]) -> dict[str, str]:
        if "clear" not in value:
            raise ValueError("must name clear (how every fault is cleared)")
        return value


class MonitorContract(Message):
    """The system's monitor: where its status is, and how the status of each replica reads."""

    url: str | None = Field("http://localhost:5004", pattern=URL, description="null: the system has no monitor")
    status_path: str = Field("/status", pattern=PATH)
    rows_path: str = Field("instances", pattern=JSON_PATH, description="where the rows are (a list, or a mapping "
                                                                       "keyed by instance id)")
    service_field: str | None = Field("service_name", description="a row's service, where rows name one")
    service_name: str | None = Field("inventory", description="rows whose service holds this are replicas")
    instance_field: str = Field("instance_id", min_length=1, description="a row's instance id: \"1\", "
                                                                         "\"inventory-svc-1\" and "
                                                                         "\"inventory-svc-1-1\" are replica 1")
    instances: dict[str, int] = Field(default_factory=dict, description="instance ids that do not end in their "
                                                                        "number → replica")
    status_field: str = Field("status", pattern=JSON_PATH)
    on_words: list[str] = Field(default_factory=lambda: ["ON"], min_length=1)
    off_words: list[str] = Field(default_factory=lambda: ["OFF"], min_length=1)

    @field_validator("on_words", "off_words", mode="before")
    @classmethod
    def _yaml_words(cls, value: Any) -> Any:
        """YAML reads a bare ON / OFF as true / false: they were meant as the words."""
        if isinstance(value, list):
            return [{True: "ON", False: "OFF"}[w] if isinstance(w, bool) else w for w in value]
        return value

    @field_validator("on_words", "off_words")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        if any(not re.match(WORD, w) for w in value):
            raise ValueError("each word must be 1 to 64 characters, not starting with a space")
        return value


class VoterContract(Message):
    """The voter: its voted reads (all products, and one where it has the path) and its statistics."""

    url: str = Field("http://localhost:5005", pattern=URL)
    voted_path: str = Field("/inventory/voted", pattern=PATH)
    voted_one_path: str | None = Field(None, pattern=PATH, description="one product, e.g. "
                                                                       "/inventory/voted/{product_id}")
    items_path: str = Field("inventory", pattern=JSON_PATH, description="where the products are in a voted answer")
    stats_path: str | None = Field("/voting/stats", pattern=PATH)


class ProxyContract(Message):
    """Where the fault proxy in front of the replicas is steered, for `inject: proxy` (`faultlab system proxy`)."""

    control_url: str | None = Field(None, pattern=URL, description="its control API (null: the proxy `faultlab "
                                                                   "system proxy` runs from the lab folder)")
    token: str | None = Field(None, min_length=1, description="the operator token it takes (${VAR} from the "
                                                              "environment; null: the lab folder's)")


class SystemContract(Message):
    """The system under test: `shop` (faultlab's own, as today) or `guide` (a system built to the study guide's
    contract, reached over HTTP) with the settings that differ from the guide's."""

    model_config = ConfigDict(**Message.model_config, json_schema_extra=_named_or_mapping)

    kind: Literal["shop", "guide"] = Field("guide", description="shop, or guide (the default for a mapping)")
    name: str = Field("guide system", min_length=1, max_length=80, description="how reports name it")
    inject: Literal["api", "proxy"] = Field("api", description="faults through the replicas' /inject-failure, or "
                                                               "through faultlab's HTTP fault proxy")
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every request; ${VAR} is taken "
                                                                      "from the environment")
    products: list[str] = Field(default_factory=lambda: list(GUIDE_PRODUCTS), min_length=1, max_length=100)
    timeout_s: float = Field(2.0, gt=0, le=60, description="a probe or a fault request not answered by then failed")
    fields: ProductFields = Field(default_factory=ProductFields)
    orders: OrdersContract = Field(default_factory=OrdersContract)
    replicas: ReplicasContract = Field(default_factory=ReplicasContract)
    monitor: MonitorContract = Field(default_factory=MonitorContract)
    voter: VoterContract = Field(default_factory=VoterContract)
    proxy: ProxyContract = Field(default_factory=ProxyContract)

    @model_validator(mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        """`system: guide` and `system: shop` are the defaults of each kind."""
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _shop_alone(self) -> SystemContract:
        fields = type(self).model_fields
        changed = [name for name in self.model_fields_set - {"kind"}
                   if getattr(self, name) != fields[name].get_default(call_default_factory=True)]
        if self.kind == "shop" and changed:
            raise ValueError("the shop takes no contract: give `system: shop` alone, or a guide system's settings")
        return self


REDACTED = "<redacted: give it as ${VARIABLE}>"


def recorded_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers as a report may keep them: a value that names environment variables stays (it holds no secret),
    any other value of an Authorization-like header is redacted."""
    secret = ("authorization", "token", "key", "cookie", "secret", "password")
    return {name: value if "${" in value or not any(w in name.lower() for w in secret) else REDACTED
            for name, value in headers.items()}


__all__ = ["GUIDE_KINDS", "GUIDE_PARAMS", "GUIDE_PRODUCTS", "MonitorContract", "OrdersContract", "ProductFields",
           "ProxyContract", "ReplicasContract", "SystemContract", "VoterContract", "recorded_headers"]
