"""contract.stack.images: image recipes and the build flow, with a fake `docker` CLI (no engine)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from contract.errors import InputError, NoOpenMeterError
from contract.stack import images
from contract.stack.images import (
    INFRA_IMAGES,
    OPENMETER_BINARIES,
    BuildPlan,
    build_images,
    debian_mirror,
    find_openmeter_binaries,
    find_shim,
    local_image_env,
    openmeter_tag_for,
)

from .conftest import REPO

RECIPES = REPO / "compose" / "images"

# A stand-in for the docker CLI: appends its argv to $FAKE_DOCKER_LOG; `image inspect T` succeeds only
# for tags listed in $FAKE_DOCKER_IMAGES; `build` records the files of its context and succeeds unless
# $FAKE_DOCKER_FAIL names the tag.
FAKE_DOCKER = r"""#!/bin/sh
echo "$*" >>"$FAKE_DOCKER_LOG"
if [ "$1" = image ] && [ "$2" = inspect ]; then
  case "$4" in *Labels*) out="${FAKE_DOCKER_LABEL:-<no value>}" ;; *) out=sha256:1 ;; esac
  for tag in $FAKE_DOCKER_IMAGES; do [ "$tag" = "$5" ] && { echo "$out"; exit 0; }; done
  echo "Error: No such image: $5" >&2; exit 1
fi
if [ "$1" = build ]; then
  for last; do :; done
  tag=""; prev=""
  for a; do [ "$prev" = "-t" ] && tag="$a"; prev="$a"; done
  (cd "$last" && find . -type f | sort | sed "s|^|$tag |") >>"$FAKE_DOCKER_LOG.files"
  echo "Step 1/2 : FROM base"
  if [ "$tag" = "$FAKE_DOCKER_FAIL" ]; then echo "E: Unable to locate package nothing" ; exit 100; fi
  exit 0
fi
exit 0
"""


@pytest.fixture()
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_DOCKER_IMAGES", images.BASE_IMAGE)
    monkeypatch.delenv("FAKE_DOCKER_FAIL", raising=False)
    return log


def _binaries(folder: Path, names: tuple[str, ...] = tuple(OPENMETER_BINARIES)) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        path = folder / name
        path.write_bytes(b"\x7fELF fake " + name.encode())
        path.chmod(0o755)
    return folder


def test_every_infrastructure_image_has_a_recipe_and_a_compose_variable() -> None:
    compose = (REPO / "compose" / "docker-compose.yaml").read_text(encoding="utf-8")
    services = yaml.safe_load(compose)["services"]
    for spec in INFRA_IMAGES:
        assert (RECIPES / spec.recipe / "Dockerfile").is_file(), spec
        image = services[spec.service]["image"]
        assert image.startswith(f"${{{spec.env}:-"), (spec.service, image)


def test_recipes_build_from_the_local_base_and_never_from_a_registry_image() -> None:
    for dockerfile in RECIPES.glob("*/Dockerfile"):
        froms = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")]
        assert froms and all(f == "${BASE}" for f in froms), dockerfile
        assert f"ARG BASE={images.BASE_IMAGE}" in dockerfile.read_text(), dockerfile


def test_the_openmeter_recipe_packages_binaries_and_compiles_nothing() -> None:
    text = (RECIPES / "openmeter" / "Dockerfile").read_text()
    for binary, command in OPENMETER_BINARIES.items():
        assert f"COPY bin/{binary} /usr/local/bin/{command}" in text
    assert "go build" not in text and "golang" not in text


def test_entrypoint_scripts_are_executable() -> None:
    for script in [*RECIPES.glob("*/entrypoint.sh"), RECIPES / "kafka" / "kafka-topics"]:
        assert script.stat().st_mode & stat.S_IXUSR, script


def test_local_images_are_chosen_only_when_present_and_not_overridden() -> None:
    present = {"omcontract/postgres:15-bookworm", "omcontract/kafka:3.9.1-bookworm"}
    env = local_image_env({"OMCONTRACT_KAFKA_IMAGE": "my/kafka:1"}, exists=present.__contains__)
    assert env == {"OMCONTRACT_POSTGRES_IMAGE": "omcontract/postgres:15-bookworm"}
    assert local_image_env({}, exists=lambda _: False) == {}


def test_the_clickhouse_stand_in_gets_a_file_limit_any_engine_allows() -> None:
    env = local_image_env({}, exists=lambda tag: tag.startswith("omcontract/clickhouse-chdb-shim:"))
    assert env == {
        "OMCONTRACT_CLICKHOUSE_IMAGE": "omcontract/clickhouse-chdb-shim:4.4.0",
        "OMCONTRACT_CLICKHOUSE_NOFILE": "4096",
    }
    assert (
        local_image_env({"OMCONTRACT_CLICKHOUSE_NOFILE": "9999"}, exists=lambda _: True).get(
            "OMCONTRACT_CLICKHOUSE_NOFILE"
        )
        is None
    )


def test_binaries_folder_must_hold_all_four(tmp_path: Path) -> None:
    folder = _binaries(tmp_path / "abc123456" / "bin", ("server", "billing-worker"))
    with pytest.raises(InputError) as err:
        find_openmeter_binaries(folder)
    assert str(err.value).startswith(f"openmeter_bin: {folder} lacks the OpenMeter binaries sink-worker, jobs ")
    assert err.value.exit_code == 2
    with pytest.raises(InputError, match=r"^openmeter_bin: not a folder: "):
        find_openmeter_binaries(tmp_path / "nothing")


def test_the_tag_is_the_revision_folder_of_rev_bin(tmp_path: Path) -> None:
    assert openmeter_tag_for(tmp_path / "7e57a394a" / "bin") == "7e57a394a"
    assert openmeter_tag_for(tmp_path / "my-build") == "my-build"
    with pytest.raises(InputError, match=r"^tag: cannot derive an image tag from .*; pass --tag TAG$"):
        openmeter_tag_for(tmp_path / "bad name!" / "bin")


def test_the_shim_is_found_beside_the_project_or_named(tmp_path: Path) -> None:
    project = tmp_path / "wt"
    project.mkdir()
    assert find_shim(None, project, {}) is None
    shim = tmp_path / "shared" / "tools" / "openmeter-native" / "chnative_shim.py"
    shim.parent.mkdir(parents=True)
    shim.write_text("# shim")
    assert find_shim(None, project, {}) == shim
    with pytest.raises(InputError, match=r"^chshim: no such file: .*from OMCONTRACT_CHSHIM"):
        find_shim(None, project, {"OMCONTRACT_CHSHIM": str(tmp_path / "none.py")})


def test_debian_mirror_is_read_from_apt_sources_in_both_formats(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert debian_mirror([deb822]) == "http://mirror.example/debian"
    assert debian_mirror([tmp_path / "missing", one_line]) == "http://other.example/debian"
    assert debian_mirror([]) == "http://deb.debian.org/debian"


def test_build_makes_missing_images_and_keeps_present_ones(
    tmp_path: Path, fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_IMAGES", f"{images.BASE_IMAGE} omcontract/redis:7-bookworm")
    shim = tmp_path / "chnative_shim.py"
    shim.write_text("# shim")
    ca = tmp_path / "proxy-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    bins = _binaries(tmp_path / "7e57a394a" / "bin")
    said: list[str] = []
    plan = BuildPlan(recipes=RECIPES, log_dir=tmp_path / "logs", openmeter_bin=bins, shim=shim, ca_certs=(ca,))
    results = build_images(plan, progress=said.append)
    outcomes = {r.tag: r.outcome for r in results}
    assert outcomes == {
        "omcontract/postgres:15-bookworm": "built",
        "omcontract/redis:7-bookworm": "kept",
        "omcontract/kafka:3.9.1-bookworm": "built",
        "omcontract/clickhouse-chdb-shim:4.4.0": "built",
        "ghcr.io/openmeterio/openmeter:7e57a394a": "built",
    }
    calls = fake_docker.read_text().splitlines()
    builds = [c for c in calls if c.startswith("build ")]
    assert all("--network host" in c and f"--build-arg BASE={images.BASE_IMAGE}" in c for c in builds)
    assert any("-t ghcr.io/openmeterio/openmeter:7e57a394a" in c and "REVISION=7e57a394a" in c for c in builds)
    files = Path(f"{fake_docker}.files").read_text().splitlines()
    assert "omcontract/clickhouse-chdb-shim:4.4.0 ./chnative_shim.py" in files
    assert "omcontract/kafka:3.9.1-bookworm ./ca/extra-0-proxy-ca.crt" in files
    assert {f"ghcr.io/openmeterio/openmeter:7e57a394a ./bin/{b}" for b in OPENMETER_BINARIES} <= set(files)
    assert not any(f.startswith("ghcr.io/openmeterio/openmeter:7e57a394a ./ca/extra") for f in files)
    assert said[0].startswith("building omcontract/postgres:15-bookworm (log: ")


def test_without_the_shim_the_clickhouse_image_is_skipped_with_the_reason(tmp_path: Path, fake_docker: Path) -> None:
    results = build_images(BuildPlan(recipes=RECIPES, log_dir=tmp_path / "logs"), progress=lambda _: None)
    skipped = [r for r in results if r.outcome == "skipped"]
    assert [r.tag for r in skipped] == ["omcontract/clickhouse-chdb-shim:4.4.0"]
    assert "pass --chshim FILE or set OMCONTRACT_CHSHIM" in skipped[0].reason
    assert not any(r.tag.startswith(images.OPENMETER_REPOSITORY) for r in results)


def test_a_failing_build_is_one_line_with_its_last_output_and_log(
    tmp_path: Path, fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "omcontract/postgres:15-bookworm")
    with pytest.raises(NoOpenMeterError) as err:
        build_images(BuildPlan(recipes=RECIPES, log_dir=tmp_path / "logs"), progress=lambda _: None)
    message = str(err.value)
    assert message.startswith("docker build omcontract/postgres:15-bookworm failed (exit code 100): ")
    assert "E: Unable to locate package nothing (log: " in message
    assert "\n" not in message


def test_a_missing_custom_base_image_is_reported_not_made(
    tmp_path: Path, fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_IMAGES", "")
    plan = BuildPlan(recipes=RECIPES, log_dir=tmp_path / "logs", base_image="debian:bookworm-slim")
    with pytest.raises(NoOpenMeterError, match=r"^base image debian:bookworm-slim is not in the engine; "):
        build_images(plan, progress=lambda _: None)


def test_the_openmeter_image_is_rebuilt_when_its_binaries_change(
    tmp_path: Path, fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bins = _binaries(tmp_path / "abc123456" / "bin")
    image = "ghcr.io/openmeterio/openmeter:abc123456"
    infra = " ".join(spec.tag for spec in INFRA_IMAGES)
    monkeypatch.setenv("FAKE_DOCKER_IMAGES", f"{images.BASE_IMAGE} {infra} {image}")
    stamp = images.binaries_fingerprint(bins)
    monkeypatch.setenv("FAKE_DOCKER_LABEL", stamp)
    plan = BuildPlan(recipes=RECIPES, log_dir=tmp_path / "logs", openmeter_bin=bins)
    assert {r.tag: r.outcome for r in build_images(plan, progress=lambda _: None)}[image] == "kept"
    os.utime(bins / "server", ns=(1, 1))  # a rebuilt binary
    assert images.binaries_fingerprint(bins) != stamp
    assert {r.tag: r.outcome for r in build_images(plan, progress=lambda _: None)}[image] == "built"
    build = [c for c in fake_docker.read_text().splitlines() if c.startswith("build ")]
    assert len(build) == 1 and f"--label omcontract.binaries={images.binaries_fingerprint(bins)}" in build[0]
