"""Run the mutant catalogue (tools/mutation/mutants.py) against the oracle check and the offline suite.

On demand only (minutes, not seconds); see tools/mutation/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[2]
#: The suite in file order, without the two tests that time the CLI's wall clock (a loaded machine
#: fails them whatever the mutant; they exercise no model or comparator code).
DEFAULT_PYTEST_ARGS = ("-p", "no:randomly", "-k", "not within_5_seconds")
FAST_TESTS = ("tests/model", "tests/compare", "tests/oracle")
MODEL_CHECK = "import sys; from contract.cli import main; sys.exit(main(['model', 'check', 'fixtures/oracle']))"


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | stale | timeout
    by: str = ""
    seconds: float = 0.0


def _copy_tree(dest: Path, ref: str | None = None) -> None:
    """The working tree (tracked and untracked files, no virtualenv) or, with ``ref``, that commit."""
    dest.mkdir(parents=True)
    if ref is not None:
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for rel in files:
        src = ROOT / rel
        if not src.is_file() or rel.startswith(".venv"):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(cwd), PYTHONDONTWRITEBYTECODE="1")
    env.pop("UPDATE_SNAPSHOTS", None)
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    return proc.returncode, proc.stdout + proc.stderr


def _first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0]
    for line in output.splitlines():
        if line.startswith("FAIL "):
            return "model check: " + line.split()[1]
    return "?"


def check(mutant: Mutant, root: Path = ROOT) -> str | None:
    """None when the mutant applies to the tree at ``root``, else why not."""
    text = (root / mutant.path).read_text()
    n = text.count(mutant.old)
    return None if n == 1 else f"snippet found {n} times in {mutant.path}"


def run_one(mutant: Mutant, tree: Path, args: argparse.Namespace) -> Outcome:
    start = time.monotonic()
    target = tree / mutant.path
    original = target.read_text()
    problem = check(mutant, tree)
    if problem is not None:
        return Outcome(mutant, "stale", problem)
    target.write_text(original.replace(mutant.old, mutant.new, 1))
    try:
        rc, out = _run([sys.executable, "-c", MODEL_CHECK], tree, args.timeout)
        if rc == -1:
            return Outcome(mutant, "timeout", "model check", time.monotonic() - start)
        if rc != 0:
            return Outcome(mutant, "killed", "model check: " + _first_failure(out), time.monotonic() - start)
        base = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args.pytest_args]
        # the model, comparator and oracle tests first (most mutants die there, fast), then everything
        stages = [[*base, *FAST_TESTS]] + ([] if args.quick else [base])
        for cmd in stages:
            rc, out = _run(cmd, tree, args.timeout)
            if rc == -1:
                return Outcome(mutant, "timeout", "pytest", time.monotonic() - start)
            if rc not in (0, 5):
                return Outcome(mutant, "killed", _first_failure(out), time.monotonic() - start)
        return Outcome(mutant, "survived", "", time.monotonic() - start)
    finally:
        target.write_text(original)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", dest="only", action="append", default=[], help="mutant id (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="only the model, comparator and oracle tests")
    parser.add_argument("--skip-equivalent", action="store_true", help="do not run the mutants argued equivalent")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="write the outcomes to this file")
    parser.add_argument("--from-ref", help="mutate this commit instead of the working tree (e.g. a baseline)")
    parser.add_argument(
        "--pytest-args",
        nargs=argparse.REMAINDER,
        default=list(DEFAULT_PYTEST_ARGS),
        help="the rest is passed to pytest (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]
    if args.skip_equivalent:
        chosen = [m for m in chosen if not m.equivalent]
    if args.list:
        for m in chosen:
            tag = " [equivalent]" if m.equivalent else ""
            print(f"{m.id:4} {m.path}: {m.note}{tag}")
        return 0
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        trees: Queue[Path] = Queue()
        for i in range(args.jobs):
            tree = Path(tmp) / f"w{i}"
            _copy_tree(tree, args.from_ref)
            trees.put(tree)

        def work(m: Mutant) -> Outcome:
            tree = trees.get()
            try:
                outcome = run_one(m, tree, args)
            finally:
                trees.put(tree)
            mark = {"killed": "killed  ", "survived": "SURVIVED", "stale": "STALE   ", "timeout": "timeout "}
            eq = " (equivalent)" if m.equivalent else ""
            print(f"{m.id:4} {mark[outcome.status]} {outcome.seconds:5.1f}s  {m.note}{eq}  {outcome.by}", flush=True)
            return outcome

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = list(pool.map(work, chosen))
    counted = [o for o in outcomes if not o.mutant.equivalent and o.status != "stale"]
    killed = [o for o in counted if o.status in ("killed", "timeout")]
    survivors = [o for o in counted if o.status == "survived"]
    for label, group in (("model", "contract/model/"), ("compare", "contract/compare/")):
        part = [o for o in counted if o.mutant.path.startswith(group)]
        k = sum(o.status in ("killed", "timeout") for o in part)
        print(f"{label:8} {k}/{len(part)} killed")
    rate = 100.0 * len(killed) / len(counted) if counted else 0.0
    equivalent = [o for o in outcomes if o.mutant.equivalent]
    stale = [o for o in outcomes if o.status == "stale"]
    print(
        f"total    {len(killed)}/{len(counted)} non-equivalent mutants killed ({rate:.1f}%); "
        f"{len(equivalent)} equivalent; {len(stale)} stale"
    )
    for o in survivors:
        print(f"  survivor {o.mutant.id}: {o.mutant.path}: {o.mutant.note}")
    for o in equivalent:
        print(f"  equivalent {o.mutant.id} ({o.status}): {o.mutant.equivalent}")
    for o in stale:
        print(f"  stale {o.mutant.id}: {o.by}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                [{"id": o.mutant.id, "status": o.status, "by": o.by, "seconds": round(o.seconds, 1)} for o in outcomes],
                indent=1,
            )
        )
    return 0 if not survivors and not stale else 1


if __name__ == "__main__":
    sys.exit(main())
