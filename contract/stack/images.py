"""Build the compose stack's images on a Docker engine that reaches no image registry.

``compose/images/<name>/`` holds one recipe per image. Every image starts ``FROM`` a Debian bookworm
base (``local/debian:bookworm``, made with ``debootstrap`` when absent) and installs Debian's
packages, or jars from Maven Central, or a wheel from PyPI -- never an image from a registry:

===============  ==========================================  ============================================
service          image                                       made from
===============  ==========================================  ============================================
postgres         ``omcontract/postgres:15-bookworm``         Debian's postgresql-15
redis            ``omcontract/redis:7-bookworm``             Debian's redis-server
kafka            ``omcontract/kafka:3.9.1-bookworm``         Apache Kafka's jars (KRaft) on Debian's JRE
clickhouse       ``omcontract/clickhouse-chdb-shim:4.4.0``   a STAND-IN: chdb behind the native tool's shim
OpenMeter (x3)   ``ghcr.io/openmeterio/openmeter:<tag>``     four binaries you built (never compiled here)
===============  ==========================================  ============================================

compose reads the infrastructure images from ``OMCONTRACT_*_IMAGE`` variables (upstream images by
default); :func:`local_image_env` sets them for the images present in the engine, so a stack boots
without a registry once the images are built. Every ``docker`` call has a deadline; long builds
report progress; the full build output goes to a log file named in any error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from contract import proc as _proc
from contract.errors import InputError, NoOpenMeterError

__all__ = [
    "BASE_IMAGE",
    "INFRA_IMAGES",
    "OPENMETER_BINARIES",
    "OPENMETER_REPOSITORY",
    "BuildPlan",
    "BuiltImage",
    "ImageSpec",
    "build_images",
    "debian_mirror",
    "find_openmeter_binaries",
    "find_shim",
    "image_exists",
    "local_image_env",
    "openmeter_tag_for",
]

BASE_IMAGE = "local/debian:bookworm"
OPENMETER_REPOSITORY = "ghcr.io/openmeterio/openmeter"
# binary built from OpenMeter's cmd/<name> -> the command compose runs in the image
OPENMETER_BINARIES: Mapping[str, str] = {
    "server": "openmeter",
    "billing-worker": "openmeter-billing-worker",
    "sink-worker": "openmeter-sink-worker",
    "jobs": "openmeter-jobs",
}
SHIM_FILE = "chnative_shim.py"
FINGERPRINT_LABEL = "omcontract.binaries"
SHIM_IMAGE_NAME = "omcontract/clickhouse-chdb-shim:"
NOFILE_ENV = "OMCONTRACT_CLICKHOUSE_NOFILE"
SHIM_NOFILE = "4096"
DEFAULT_BUILD_TIMEOUT_S = 1800.0
INSPECT_TIMEOUT_S = 10.0
DEBOOTSTRAP_TIMEOUT_S = 900.0
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_PROGRESS_EVERY_S = 15.0


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One infrastructure image: its recipe folder, its local tag and the compose variable naming it."""

    service: str
    recipe: str
    tag: str
    env: str


INFRA_IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("postgres", "postgres", "omcontract/postgres:15-bookworm", "OMCONTRACT_POSTGRES_IMAGE"),
    ImageSpec("redis", "redis", "omcontract/redis:7-bookworm", "OMCONTRACT_REDIS_IMAGE"),
    ImageSpec("kafka", "kafka", "omcontract/kafka:3.9.1-bookworm", "OMCONTRACT_KAFKA_IMAGE"),
    ImageSpec("clickhouse", "clickhouse-shim", "omcontract/clickhouse-chdb-shim:4.4.0", "OMCONTRACT_CLICKHOUSE_IMAGE"),
)


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """What :func:`build_images` did for one image: ``built``, ``kept`` (already there) or ``skipped``."""

    tag: str
    outcome: str
    seconds: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BuildPlan:
    """What to build. ``openmeter_bin`` None builds only the infrastructure images."""

    recipes: Path
    log_dir: Path
    openmeter_bin: Path | None = None
    openmeter_tag: str | None = None
    shim: Path | None = None
    base_image: str = BASE_IMAGE
    rebuild: bool = False
    ca_certs: tuple[Path, ...] = ()
    timeout_s: float = DEFAULT_BUILD_TIMEOUT_S


Progress = Callable[[str], None]
Runner = Callable[..., _proc.Finished]


def _docker() -> str:
    binary = shutil.which("docker")
    if binary is None:
        raise NoOpenMeterError("the `docker` CLI is not on PATH; install Docker to build the images")
    return binary


def image_exists(tag: str, *, run: Runner | None = None) -> bool:
    """True when the engine holds an image named ``tag`` (no pull is tried)."""
    done = (run or _proc.run)([_docker(), "image", "inspect", "--format", "{{.Id}}", tag], timeout=INSPECT_TIMEOUT_S)
    if done.timed_out:
        raise NoOpenMeterError(f"`docker image inspect {tag}` did not answer within {INSPECT_TIMEOUT_S:g} s")
    return done.returncode == 0


def image_label(tag: str, label: str, *, run: Runner | None = None) -> str | None:
    """The value of ``label`` on image ``tag``; None when the image or the label is missing."""
    fmt = "{{index .Config.Labels " + json.dumps(label) + "}}"
    done = (run or _proc.run)([_docker(), "image", "inspect", "--format", fmt, tag], timeout=INSPECT_TIMEOUT_S)
    if done.timed_out:
        raise NoOpenMeterError(f"`docker image inspect {tag}` did not answer within {INSPECT_TIMEOUT_S:g} s")
    value = done.stdout.decode("utf-8", "replace").strip()
    return value if done.returncode == 0 and value and value != "<no value>" else None


def binaries_fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of the OpenMeter binaries: a rebuilt binary changes it."""
    digest = hashlib.sha256()
    for name in OPENMETER_BINARIES:
        info = (folder / name).stat()
        digest.update(f"{name}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def local_image_env(
    environ: Mapping[str, str] | None = None, *, exists: Callable[[str], bool] | None = None
) -> dict[str, str]:
    """``OMCONTRACT_*_IMAGE`` values for the locally built images present in the engine.

    A variable the user set wins; an image not built leaves compose's upstream default in place.
    """
    env = os.environ if environ is None else environ
    check = exists if exists is not None else image_exists
    chosen: dict[str, str] = {}
    for spec in INFRA_IMAGES:
        if env.get(spec.env, "").strip():
            continue
        if check(spec.tag):
            chosen[spec.env] = spec.tag
    clickhouse = chosen.get("OMCONTRACT_CLICKHOUSE_IMAGE") or env.get("OMCONTRACT_CLICKHOUSE_IMAGE", "")
    if clickhouse.startswith(SHIM_IMAGE_NAME) and not env.get(NOFILE_ENV, "").strip():
        # ClickHouse server wants 262144 open files; the shim does not, and engines may allow fewer
        chosen[NOFILE_ENV] = SHIM_NOFILE
    return chosen


def find_openmeter_binaries(folder: Path) -> Path:
    """``folder`` when it holds the four OpenMeter binaries as executables, else one-line InputError."""
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}", field="openmeter_bin")
    missing = [name for name in OPENMETER_BINARIES if not os.access(folder / name, os.X_OK)]
    if missing:
        raise InputError(
            f"{folder} lacks the OpenMeter binaries {', '.join(missing)} "
            f"(expected {', '.join(OPENMETER_BINARIES)}: OpenMeter's cmd/<name>, built beside the project)",
            field="openmeter_bin",
        )
    return folder


def openmeter_tag_for(folder: Path) -> str:
    """The image tag for binaries in ``<rev>/bin``: ``<rev>`` (the native tool's layout), else InputError."""
    resolved = folder.resolve()
    candidate = resolved.parent.name if resolved.name == "bin" else resolved.name
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", candidate):
        return candidate
    raise InputError(f"cannot derive an image tag from {folder}; pass --tag TAG", field="tag")


def find_shim(explicit: Path | None, project_root: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """The chdb shim: ``explicit``, ``$OMCONTRACT_CHSHIM``, or ``../shared/tools/openmeter-native/``."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"no such file: {explicit}", field="chshim")
        return explicit
    if env.get("OMCONTRACT_CHSHIM"):
        path = Path(env["OMCONTRACT_CHSHIM"])
        if not path.is_file():
            raise InputError(f"no such file: {path} (from OMCONTRACT_CHSHIM)", field="chshim")
        return path
    beside = project_root.parent / "shared" / "tools" / "openmeter-native" / SHIM_FILE
    return beside if beside.is_file() else None


def debian_mirror(sources: Iterable[Path] | None = None) -> str:
    """The Debian mirror apt on this machine uses (for ``debootstrap``), else deb.debian.org."""
    paths = (
        list(sources)
        if sources is not None
        else [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    )
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # deb822 (URIs: ... / Suites: bookworm ...) and one-line ("deb URI bookworm main") formats
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and "bookworm" in suites.group(1).split() and "security" not in uris.group(1):
                return uris.group(1).rstrip("/")
        for match in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M):
            if "security" not in match.group(1):
                return match.group(1).rstrip("/")
    return DEFAULT_MIRROR


def _ensure_base(plan: BuildPlan, progress: Progress, run: Runner | None) -> BuiltImage | None:
    if image_exists(plan.base_image, run=run):
        return BuiltImage(plan.base_image, "kept")
    if plan.base_image != BASE_IMAGE:
        raise NoOpenMeterError(
            f"base image {plan.base_image} is not in the engine; pull or load it first (or drop --base-image "
            f"to make {BASE_IMAGE} with debootstrap)"
        )
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise NoOpenMeterError(
            f"base image {BASE_IMAGE} is not in the engine and debootstrap is missing "
            "(apt-get install debootstrap), or pass --base-image IMAGE"
        )
    mirror = debian_mirror()
    progress(f"making {BASE_IMAGE} with debootstrap from {mirror} (about a minute)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="omcontract-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log = plan.log_dir / "debootstrap.log"
        _run_logged(
            [debootstrap, "--variant=minbase", "bookworm", str(rootfs), mirror],
            log,
            f"debootstrap {BASE_IMAGE}",
            DEBOOTSTRAP_TIMEOUT_S,
            progress,
        )
        command = f"tar -C {_q(rootfs)} -c . | {_q(_docker())} import - {BASE_IMAGE}"
        done = _proc.run(command, timeout=DEBOOTSTRAP_TIMEOUT_S)
        if done.returncode != 0:
            reason = _last_line(done.stderr) or ("timed out" if done.timed_out else f"exit code {done.returncode}")
            raise NoOpenMeterError(f"`docker import` of {BASE_IMAGE} failed: {reason}")
    return BuiltImage(BASE_IMAGE, "built", time.monotonic() - started)


def _q(path: Path | str) -> str:
    import shlex

    return shlex.quote(str(path))


def _last_line(data: bytes) -> str:
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip()[:240] if lines else ""


def _run_logged(argv: Sequence[str], log: Path, what: str, timeout: float, progress: Progress) -> None:
    """Run ``argv`` with its output in ``log``; say every so often what it is doing; fail in one line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        next_report = started + _PROGRESS_EVERY_S
        while True:
            try:
                code = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if now - started > timeout:
                    _kill_group(proc)
                    raise NoOpenMeterError(f"{what} did not finish within {timeout:g} s (log: {log})") from None
                if now >= next_report:
                    progress(f"  {what}: {now - started:.0f} s, {_current_step(log)}")
                    next_report = now + _PROGRESS_EVERY_S
    if code != 0:
        raise NoOpenMeterError(f"{what} failed (exit code {code}): {_tail_reason(log)} (log: {log})")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _current_step(log: Path) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "starting"
    steps = re.findall(r"^(Step \d+/\d+ : .{0,80})", text, re.M)
    return steps[-1] if steps else "starting"


def _tail_reason(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return "no output"
    lines = [line for line in lines if line and not line.startswith(("DEPRECATED", "Install the buildx"))]
    return lines[-1][:240] if lines else "no output"


def _stage_context(recipe: Path, into: Path, ca_certs: Sequence[Path]) -> Path:
    context = into / recipe.name
    shutil.copytree(recipe, context)
    ca_dir = context / "ca"
    ca_dir.mkdir(exist_ok=True)
    for index, cert in enumerate(ca_certs):
        shutil.copyfile(cert, ca_dir / f"extra-{index}-{cert.stem}.crt")
    return context


def _build(
    context: Path,
    tag: str,
    plan: BuildPlan,
    progress: Progress,
    build_args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> float:
    argv = [_docker(), "build", "--network", "host", "--pull=false", "-t", tag]
    argv += ["--build-arg", f"BASE={plan.base_image}"]
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in (labels or {}).items():
        argv += ["--label", f"{key}={value}"]
    argv.append(str(context))
    log = plan.log_dir / f"build-{re.sub(r'[^A-Za-z0-9_.-]+', '_', tag)}.log"
    started = time.monotonic()
    progress(f"building {tag} (log: {log})")
    _run_logged(argv, log, f"docker build {tag}", plan.timeout_s, progress)
    return time.monotonic() - started


def build_images(plan: BuildPlan, *, progress: Progress, run: Runner | None = None) -> list[BuiltImage]:
    """Make the base image if needed, then every infrastructure image and (with binaries) OpenMeter's."""
    if not (plan.recipes / "postgres" / "Dockerfile").is_file():
        raise InputError(f"no image recipes in {plan.recipes}", field="recipes")
    for cert in plan.ca_certs:
        if not cert.is_file():
            raise InputError(f"no such file: {cert}", field="ca_cert")
    plan.log_dir.mkdir(parents=True, exist_ok=True)
    results: list[BuiltImage] = []
    base = _ensure_base(plan, progress, run)
    if base is not None and base.outcome == "built":
        results.append(base)
    with tempfile.TemporaryDirectory(prefix="omcontract-images-") as tmp:
        staging = Path(tmp)
        for spec in INFRA_IMAGES:
            if not plan.rebuild and image_exists(spec.tag, run=run):
                results.append(BuiltImage(spec.tag, "kept"))
                continue
            if spec.recipe == "clickhouse-shim" and plan.shim is None:
                results.append(
                    BuiltImage(
                        spec.tag,
                        "skipped",
                        reason=f"no {SHIM_FILE} (pass --chshim FILE or set OMCONTRACT_CHSHIM); compose keeps the "
                        "upstream ClickHouse image",
                    )
                )
                continue
            context = _stage_context(plan.recipes / spec.recipe, staging, plan.ca_certs)
            if spec.recipe == "clickhouse-shim" and plan.shim is not None:
                shutil.copyfile(plan.shim, context / SHIM_FILE)
            results.append(BuiltImage(spec.tag, "built", _build(context, spec.tag, plan, progress)))
        if plan.openmeter_bin is not None:
            folder = find_openmeter_binaries(plan.openmeter_bin)
            tag = plan.openmeter_tag or openmeter_tag_for(folder)
            image = f"{OPENMETER_REPOSITORY}:{tag}"
            stamp = binaries_fingerprint(folder)
            if not plan.rebuild and image_label(image, FINGERPRINT_LABEL, run=run) == stamp:
                results.append(BuiltImage(image, "kept"))
            else:
                context = _stage_context(plan.recipes / "openmeter", staging, ())
                (context / "bin").mkdir()
                for name in OPENMETER_BINARIES:
                    _link_or_copy(folder / name, context / "bin" / name)
                seconds = _build(context, image, plan, progress, {"REVISION": tag}, {FINGERPRINT_LABEL: stamp})
                results.append(BuiltImage(image, "built", seconds))
    return results


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
