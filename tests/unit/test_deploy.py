"""The offline deploy artefacts (Dockerfile, compose, Kubernetes) agree with the CLI, Settings and the topics."""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from faultlab.cli import build_parser
from faultlab.core import bus
from faultlab.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PORTS = {"orders": "orders_port", "monitor": "monitor_port", "voter": "voter_port", "dashboard": "dashboard_port"}
FAULTLAB_PROCESSES = {"monitor", "inventory-1", "inventory-2", "inventory-3", "voter", "orders", "dashboard"}
# What a service in a container must be told: where to listen, where Kafka, PostgreSQL and the others are, the token.
REQUIRED_ENV = {"FAULTLAB_HOST", "FAULTLAB_KAFKA_BOOTSTRAP", "FAULTLAB_DATABASE_URL", "FAULTLAB_ADMIN_TOKEN",
                "FAULTLAB_SERVICE_HOSTS", "FAULTLAB_REPLICAS"}


def _serve_choices() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = sub.choices["serve"]
    return list(next(a for a in serve._actions if a.dest == "service").choices)


def _expected_port(name: str) -> int:
    """The Settings default for this process: what the study guide says it listens on."""
    defaults = Settings()
    if name.startswith("inventory-"):
        return defaults.replica_port(int(name.split("-")[1]))
    return int(getattr(defaults, PORTS[name]))


def _check_command(name: str, argv: list[str]) -> None:
    """`serve <service> [--replica N]` as the CLI parses it, naming this very process."""
    args = build_parser().parse_args(argv)
    assert args.command == "serve" and args.service in _serve_choices(), argv
    if args.service == "inventory":
        assert args.replica in Settings().replica_ids and name == f"inventory-{args.replica}", argv
    else:
        assert args.replica is None and name == args.service, argv


def _interpolate(value: str) -> str:
    """Compose's ${VAR:?msg} / ${VAR:-default}: a stand-in value, as `docker compose config` would insert."""
    return re.sub(r"\$\{(\w+)(?::[?-][^}]*)?\}", lambda m: f"x{m.group(1).lower()}", value)


def _check_env(env: dict[str, str], where: str) -> Settings:
    """Every required variable set, every FAULTLAB_* name a real setting, and the addresses they give."""
    assert set(env) >= REQUIRED_ENV, f"{where}: missing {REQUIRED_ENV - set(env)}"
    fields = {f"FAULTLAB_{name.upper()}" for name in Settings.model_fields}
    unknown = {k for k in env if k.startswith("FAULTLAB_")} - fields
    assert not unknown, f"{where}: unknown settings {unknown}"
    values = {k[len("FAULTLAB_"):].lower(): v for k, v in env.items() if k.startswith("FAULTLAB_")}
    values["service_hosts"] = json.loads(values["service_hosts"])
    settings = Settings(**values)
    assert settings.host == "0.0.0.0", where
    assert set(settings.service_hosts) == FAULTLAB_PROCESSES, where
    assert all(settings.service_hosts[n] == n for n in FAULTLAB_PROCESSES), f"{where}: a host is not its own name"
    return settings


# ---- Dockerfile ----------------------------------------------------------------------------------------


def test_dockerfile_runs_the_cli_and_listens_on_its_interface() -> None:
    """One image: entrypoint `faultlab` (the pyproject script), FAULTLAB_HOST=0.0.0.0, the guide's ports exposed."""
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["faultlab"\]$', text, re.MULTILINE)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["faultlab"] == "faultlab.cli:main"
    assert "FAULTLAB_HOST=0.0.0.0" in text and re.search(r"^USER \d+", text, re.MULTILINE), "non-root, not loopback"
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", text, re.MULTILINE) for p in line.split()}
    assert exposed == {_expected_port(n) for n in FAULTLAB_PROCESSES}
    for copied in ("pyproject.toml", "src"):
        assert re.search(rf"^COPY .*\b{copied}\b", text, re.MULTILINE), copied


# ---- compose ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_compose_runs_every_faultlab_process_on_the_guides_port(compose: dict[str, Any]) -> None:
    """Each process: built from the Dockerfile, `serve` command the CLI accepts, port = Settings default, health
    check on that port, a restart policy, started after PostgreSQL is healthy and the topics exist."""
    services = compose["services"]
    assert set(services) >= FAULTLAB_PROCESSES
    served = set()
    for name in FAULTLAB_PROCESSES:
        svc = services[name]
        assert svc["build"]["dockerfile"] == "Dockerfile" and (DEPLOY / svc["build"]["context"] / "Dockerfile").exists()
        _check_command(name, svc["command"])
        served.add(svc["command"][1])
        port = _expected_port(name)
        assert svc["ports"] == [f"{port}:{port}"], name
        assert svc["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/health", name
        assert svc["restart"] in ("always", "unless-stopped", "on-failure"), name
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert svc["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert served == set(_serve_choices()), "every service the CLI can serve is deployed"


def test_compose_environment_gives_every_service_its_addresses(compose: dict[str, Any]) -> None:
    """Every process gets host, Kafka (the 3 brokers), PostgreSQL (the postgres service), the token, the map."""
    services = compose["services"]
    for name in FAULTLAB_PROCESSES:
        env = {k: _interpolate(str(v)) for k, v in services[name]["environment"].items()}
        settings = _check_env(env, name)
        assert sorted(settings.bootstrap.split(",")) == [f"kafka-{i}:9092" for i in (1, 2, 3)]
        assert re.match(r"postgresql://faultlab:[^@]+@postgres:5432/faultlab$", settings.dsn)
        assert settings.replica_url(2) == "http://inventory-2:5002"
        assert settings.service_url("monitor") == "http://monitor:5004"
    assert "${FAULTLAB_ADMIN_TOKEN:?" in (DEPLOY / "compose.yaml").read_text(), "the token must be required"


def test_compose_kafka_is_a_three_broker_kraft_cluster_with_replicated_topics(compose: dict[str, Any]) -> None:
    """apache/kafka, broker+controller roles, a 3-voter quorum, RF 3 defaults, and the lab's topics created RF 3."""
    services = compose["services"]
    brokers = [services[f"kafka-{i}"] for i in (1, 2, 3)]
    voters = {b["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for b in brokers}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    for i, broker in enumerate(brokers, start=1):
        env = broker["environment"]
        assert broker["image"].startswith("apache/kafka:") and "healthcheck" in broker and broker["restart"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller" and env["KAFKA_NODE_ID"] == str(i)
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://kafka-{i}:9092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    script = " ".join(services["topics"]["command"])
    assert script.split("for t in ")[1].split(";")[0].split() == [*bus.TOPICS]
    assert "--replication-factor 3" in script and "--partitions 1" in script
    assert services["postgres"]["image"].startswith("postgres:") and "healthcheck" in services["postgres"]


# ---- Kubernetes --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / "k8s" / resource).read_text()) if d]
    assert {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} == {"kustomization.yaml", *kustomization["resources"]}
    return docs


def _named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_k8s_runs_every_process_with_matching_args_ports_and_probes(k8s: list[dict[str, Any]]) -> None:
    """A Deployment and a Service per process: CLI args, containerPort = Service port = Settings default, probes."""
    deployments, services = _named(k8s, "Deployment"), _named(k8s, "Service")
    assert set(deployments) == FAULTLAB_PROCESSES
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        assert deployment["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
        assert services[name]["spec"]["selector"] == pod["metadata"]["labels"]
        (container,) = pod["spec"]["containers"]
        _check_command(name, container["args"])
        port = _expected_port(name)
        assert [p["containerPort"] for p in container["ports"]] == [port]
        assert [p["port"] for p in services[name]["spec"]["ports"]] == [port]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": "/health", "port": port}, (name, probe)


def test_k8s_environment_gives_every_service_its_addresses(k8s: list[dict[str, Any]]) -> None:
    """ConfigMap + Secret references give each process every required variable; addresses are Service names."""
    config = _named(k8s, "ConfigMap")["faultlab-env"]["data"]
    kafka = _named(k8s, "StatefulSet")["kafka"]
    assert kafka["spec"]["replicas"] == 3
    for deployment in _named(k8s, "Deployment").values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": "faultlab-env"}}]
        env = dict(config)
        for item in container["env"]:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "faultlab-secrets"
            env[item["name"]] = "postgresql://u:p@postgres:5432/faultlab" if "DATABASE" in item["name"] else "t"
        settings = _check_env(env, deployment["metadata"]["name"])
        assert settings.bootstrap == "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092"
    services = _named(k8s, "Service")
    assert services["kafka"]["spec"]["clusterIP"] == "None" and "postgres" in services
    script = " ".join(_named(k8s, "Job")["faultlab-topics"]["spec"]["template"]["spec"]["containers"][0]["args"])
    assert script.split("for t in ")[1].split(";")[0].split() == [*bus.TOPICS]
    assert "--replication-factor 3" in script


# ---- the documentation names every variable ------------------------------------------------------------------


def test_docs_name_every_variable_the_deploy_files_set() -> None:
    """docs/deploy.md documents each FAULTLAB_* variable that compose or the ConfigMap sets."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    used = set(re.findall(r"\bFAULTLAB_[A-Z_]+\b", (DEPLOY / "compose.yaml").read_text()))
    used |= set(re.findall(r"\bFAULTLAB_[A-Z_]+\b", (DEPLOY / "k8s" / "config.yaml").read_text()))
    missing = sorted(v for v in used if v not in text)
    assert not missing, f"docs/deploy.md does not mention {missing}"
