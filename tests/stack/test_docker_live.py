"""The compose path on a real Docker engine (marked `live`; `.ci/docker` runs them).

They need a Docker engine with compose v2 and ``OMCONTRACT_DOCKER_TESTS=1`` (so the offline suite
never starts containers behind your back); the full-stack test also needs the image
``ghcr.io/openmeterio/openmeter:$OPENMETER_IMAGE_TAG`` (``omcontract stack build-images``).
Each test lists what the engine holds afterwards: nothing of its compose project may remain.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from contract.errors import NoOpenMeterError
from contract.stack import StackOptions, boot
from contract.stack.compose import require_docker
from contract.stack.images import INFRA_IMAGES, image_exists

pytestmark = pytest.mark.live


def _engine() -> None:
    if os.environ.get("OMCONTRACT_DOCKER_TESTS") != "1":
        pytest.skip("set OMCONTRACT_DOCKER_TESTS=1 to run the compose path on the Docker engine")
    try:
        require_docker()
    except NoOpenMeterError as err:
        pytest.skip(str(err))


def _left_behind(project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    found: list[str] = []
    for what in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        done = subprocess.run(
            ["docker", *what, "--filter", label, "--format", "{{.Name}}" if what[0] != "ps" else "{{.Names}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        found += [f"{what[0]}: {line}" for line in done.stdout.split()]
    return found


def test_a_service_that_never_gets_healthy_fails_the_boot_with_its_logs_and_leaves_nothing(tmp_path: Path) -> None:
    _engine()
    redis = next(spec.tag for spec in INFRA_IMAGES if spec.service == "redis")
    if not image_exists(redis):
        pytest.skip(f"image {redis} is not in the engine (omcontract stack build-images)")
    (tmp_path / "docker-compose.yaml").write_text(
        "services:\n"
        "  redis:\n"
        f"    image: {redis}\n"
        "    command: ['sh', '-c', 'echo broken-on-purpose; trap \"exit 0\" TERM; while :; do sleep 1; done']\n"
        "    entrypoint: []\n"
        "    healthcheck: {test: ['CMD', 'false'], interval: 1s, timeout: 2s, retries: 2}\n"
    )
    with pytest.raises(NoOpenMeterError) as err:
        boot(StackOptions(compose_dir=tmp_path, boot_timeout=60))
    message = str(err.value)
    project = message.split()[2]
    assert message.startswith(f"compose project {project} failed to boot: service redis is unhealthy")
    assert "redis | broken-on-purpose" in message
    assert _left_behind(project) == []


def test_the_stack_boots_answers_runs_a_forced_sync_and_leaves_nothing() -> None:
    _engine()
    options = StackOptions.from_env({k: v for k, v in os.environ.items() if k == "OPENMETER_IMAGE_TAG"})
    image = f"ghcr.io/openmeterio/openmeter:{options.image_tag}"
    if not image_exists(image):
        pytest.skip(f"image {image} is not in the engine (omcontract stack build-images --openmeter-bin DIR)")
    handle = boot(options)
    try:
        assert handle.mode == "booted" and handle.project
        assert handle.base_url.startswith("http://127.0.0.1:")
        assert isinstance(handle.version.get("version"), str)
        result = handle.force_sync("01AAAAAAAAAAAAAAAAAAAAAAAA")
        assert result is not None and result.command.startswith("billing-worker$ openmeter-jobs ")
        assert result.exit_code == 0, result.stderr[-500:]
        assert handle.logs is not None and handle.logs.read(), "no billing-worker log read from the container"
    finally:
        handle.close()
    assert _left_behind(handle.project) == []
