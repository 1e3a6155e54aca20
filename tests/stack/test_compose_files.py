"""compose/: the project's compose files and OpenMeter configs, checked by parsing them (no Docker)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO

COMPOSE = REPO / "compose"
OPENMETER_SERVICES = ("openmeter", "sink-worker", "billing-worker")
CONFIG_TARGET = "/etc/openmeter/config.yaml"
IMAGE = "ghcr.io/openmeterio/openmeter:${OPENMETER_IMAGE_TAG:-v1.0.0-beta.228}"


def _load(name: str) -> Any:
    return yaml.safe_load((COMPOSE / name).read_text(encoding="utf-8"))


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _load("docker-compose.yaml")["services"]
    return services


def _config_mount(files: list[str], service: str) -> str:
    """The host file mounted at CONFIG_TARGET after compose merges ``files`` (later files win per target)."""
    source = ""
    for name in files:
        for volume in _load(name)["services"].get(service, {}).get("volumes", []):
            host, target, *_ = str(volume).split(":")
            if target == CONFIG_TARGET:
                source = host
    return source


def test_the_stack_has_infra_and_three_openmeter_services() -> None:
    services = _services()
    assert set(services) == {"postgres", "clickhouse", "kafka", "redis", *OPENMETER_SERVICES}
    # upstream images by default; OMCONTRACT_*_IMAGE names locally built ones (contract.stack.images)
    assert services["postgres"]["image"].startswith("${OMCONTRACT_POSTGRES_IMAGE:-postgres:14")
    assert services["clickhouse"]["image"].startswith("${OMCONTRACT_CLICKHOUSE_IMAGE:-clickhouse/clickhouse-server:")
    assert services["redis"]["image"].startswith("${OMCONTRACT_REDIS_IMAGE:-redis:")
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert not any("ZOOKEEPER" in key for key in kafka_env)
    assert "zookeeper" not in services


def test_every_service_has_a_healthcheck() -> None:
    for name, service in _services().items():
        check = service.get("healthcheck")
        assert check and check.get("test"), name
        assert check.get("retries") and check.get("interval"), name


def test_workers_are_healthy_on_their_telemetry_healthz_and_the_api_on_its_port() -> None:
    services = _services()
    for worker in ("sink-worker", "billing-worker"):
        assert services[worker]["healthcheck"]["test"][-1] == "http://localhost:10000/healthz"
    assert services["openmeter"]["healthcheck"]["test"][-1] == "http://localhost:8888/api/v1/debug/metrics"


def test_no_fixed_host_ports_and_only_loopback() -> None:
    published: dict[str, list[int]] = {}
    for name, service in _services().items():
        for entry in service.get("ports", []):
            # "127.0.0.1::PORT": Docker picks the host port, reachable from this machine only
            m = re.fullmatch(r"127\.0\.0\.1::(\d+)", str(entry))
            assert m, f"{name}: {entry!r} pins a host port or listens beyond loopback"
            published.setdefault(name, []).append(int(m.group(1)))
    assert published == {"postgres": [5432], "openmeter": [8888], "sink-worker": [10000], "billing-worker": [10000]}


def test_openmeter_services_share_one_image_and_one_config_file() -> None:
    services = _services()
    commands = {}
    for name in OPENMETER_SERVICES:
        service = services[name]
        assert service["image"] == IMAGE, name
        assert service["volumes"] == [f"./config.yaml:{CONFIG_TARGET}:ro"], name
        commands[name] = service["command"]
    assert commands == {
        "openmeter": f"openmeter --address 0.0.0.0:8888 --config {CONFIG_TARGET}",
        "sink-worker": f"openmeter-sink-worker --config {CONFIG_TARGET}",
        "billing-worker": f"openmeter-billing-worker --config {CONFIG_TARGET}",
    }


def test_start_order_waits_for_healthy_dependencies_that_exist() -> None:
    services = _services()
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    assert set(services["openmeter"]["depends_on"]) == {"postgres", "clickhouse", "kafka"}


def test_default_config_turns_credit_then_invoice_on_in_both_spellings() -> None:
    config = _load("config.yaml")
    assert config["credits"] == {"enabled": True, "enableCreditThenInvoice": True, "enable_credit_then_invoice": True}
    assert config["telemetry"]["log"]["format"] == "json"
    assert config["telemetry"]["address"].endswith(":10000")
    assert config["address"] == "0.0.0.0:8888"


def test_config_points_at_the_compose_service_names() -> None:
    config = _load("config.yaml")
    assert config["ingest"]["kafka"]["broker"] == "kafka:9092"
    assert config["sink"]["kafka"]["brokers"] == "kafka:9092"
    assert config["aggregation"]["clickhouse"]["address"] == "clickhouse:9000"
    assert config["sink"]["dedupe"]["config"]["address"] == "redis:6379"
    assert "@postgres:5432/" in config["postgres"]["url"]
    # OpenMeter refuses a namespace refetch timeout longer than the refetch interval
    assert config["sink"]["namespaceRefetchTimeout"] == config["sink"]["namespaceRefetch"]


@pytest.mark.parametrize(
    ("variant", "credits"),
    [
        ("no-cti", {"enabled": True, "enableCreditThenInvoice": False, "enable_credit_then_invoice": False}),
        ("no-credits", {"enabled": False, "enableCreditThenInvoice": False, "enable_credit_then_invoice": False}),
    ],
)
def test_variant_override_mounts_its_config_into_every_openmeter_service(
    variant: str, credits: dict[str, bool]
) -> None:
    files = ["docker-compose.yaml", f"docker-compose.{variant}.yaml"]
    for service in OPENMETER_SERVICES:
        assert _config_mount(["docker-compose.yaml"], service) == "./config.yaml"
        assert _config_mount(files, service) == f"./config.{variant}.yaml", service
    override = _load(f"docker-compose.{variant}.yaml")["services"]
    assert set(override) == set(OPENMETER_SERVICES)  # changes nothing else
    config = _load(f"config.{variant}.yaml")
    assert config["credits"] == credits
    base = _load("config.yaml")
    assert {k: v for k, v in config.items() if k != "credits"} == {k: v for k, v in base.items() if k != "credits"}


def test_every_file_in_compose_is_referenced() -> None:
    names = {p.name for p in COMPOSE.iterdir() if p.is_file()}
    assert names == {
        "docker-compose.yaml",
        "docker-compose.no-cti.yaml",
        "docker-compose.no-credits.yaml",
        "config.yaml",
        "config.no-cti.yaml",
        "config.no-credits.yaml",
    }
    assert Path(COMPOSE / "config.yaml").read_text().count("enable_credit_then_invoice") == 1
