"""Live reliability and speed against a real OpenMeter booted by the native tool.

Prints:
  * stack-ready -> #4412 verdict, on each native build present (HEAD-like: agree; f67a8a103: caught),
  * all scenarios on one HEAD stack (wall time, verdicts),
  * N consecutive runs of all scenarios on HEAD (default 5), with flaky scenarios counted
    (a scenario is flaky when its verdict is not the same in every run).

Targets (issue 7): the #4412 verdict within 30 s of the stack being ready; all scenarios within
3 min. This is a script that prints figures, never a timed test.

    python benchmarks/bench_live.py [--runs 5] [--omnative PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUG_REV = "f67a8a103"
VERDICT_LINE = re.compile(r"^(?P<id>[a-z0-9][a-z0-9-]*)\s+(?P<verdict>agree|disagree|skipped|error)\s", re.M)


def up(tool: Path, rev: str, *flags: str) -> dict[str, str]:
    # Stop the previous OpenMeter first: the tool's own stop-then-start can race a process that is
    # already exiting (ProcessLookupError in omnative); a separate down avoids that window.
    subprocess.run([str(tool), "down"], capture_output=True, check=False)
    done = subprocess.run([str(tool), "up", "--rev", rev, *flags], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"omnative up --rev {rev} failed: {done.stderr.strip()[-500:]}")
    env = {}
    for line in done.stdout.splitlines():
        m = re.match(r"export (\w+)=(.*)", line.strip())
        if m:
            env[m.group(1)] = shlex.split(m.group(2))[0] if m.group(2) else ""
    return env


def omcontract(env: dict[str, str], *args: str) -> tuple[int, float, dict[str, str]]:
    cmd = [
        sys.executable,
        "-m",
        "contract.cli",
        "run",
        "-q",
        "--openmeter-url",
        env["OPENMETER_URL"],
        "--worker-logs",
        env["OPENMETER_WORKER_LOGS"],
        "--openmeter-postgres",
        env["OPENMETER_POSTGRES"],
        *args,
    ]
    started = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, check=False, env={**os.environ, **env, "COLUMNS": "200"}
    )
    elapsed = time.perf_counter() - started
    # the summary table wraps long ids over lines: read ids from the first column only
    verdicts = {m["id"]: m["verdict"] for m in VERDICT_LINE.finditer(done.stdout)}
    return done.returncode, elapsed, verdicts


def builds(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "builds").glob("*") if (p / "bin" / "server").exists())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--omnative", type=Path, default=ROOT.parent / "shared" / "tools" / "openmeter-native" / "omnative"
    )
    args = parser.parse_args()
    home = Path(os.environ.get("OMNATIVE_HOME", Path.home() / ".cache" / "openmeter-native"))
    revs = builds(home)
    if not args.omnative.exists() or not revs:
        print(f"no native OpenMeter build in {home}/builds: nothing to measure")
        return 0
    os.environ["OPENMETER_FORCE_SYNC"] = (
        f"{args.omnative} jobs billing subscriptionsync all --n default --c {{customer_id}}"
    )
    head = [r for r in revs if r != BUG_REV]
    try:
        for rev in revs:
            env = up(args.omnative, rev)
            code, seconds, verdicts = omcontract(env, "-k", "issue-4412-cti-cancel-immediately")
            print(
                f"stack-ready -> #4412 verdict on {rev}: {seconds:.1f} s, exit {code}, "
                f"{verdicts.get('issue-4412-cti-cancel-immediately', '?')} (target < 30 s)"
            )
        if not head:
            return 0
        seen: dict[str, set[str]] = defaultdict(set)
        times = []
        for n in range(1, args.runs + 1):
            env = up(args.omnative, head[0])  # a fresh stack per run: runs never see each other's data
            report = ROOT / "reports" / f"bench-live-run-{n}.md"
            report.parent.mkdir(parents=True, exist_ok=True)
            code, seconds, verdicts = omcontract(env, "--server-config", "cti", "--report-md", str(report))
            times.append(seconds)
            for sid, verdict in verdicts.items():
                seen[sid].add(verdict)
            counts = {v: list(verdicts.values()).count(v) for v in ("agree", "disagree", "skipped", "error")}
            odd = sorted(sid for sid, v in verdicts.items() if v not in ("agree", "skipped"))
            print(f"run {n}/{args.runs} on {head[0]}: all scenarios in {seconds:.1f} s, exit {code}, {counts}"
                  + (f"; not agreeing: {', '.join(odd)} (see {report.relative_to(ROOT)})" if odd else ""))
        flaky = sorted(sid for sid, vs in seen.items() if len(vs) > 1)
        print(f"\nall scenarios on one stack: best {min(times):.1f} s, worst {max(times):.1f} s (target < 180 s)")
        print(
            f"{args.runs} consecutive runs: {len(flaky)} flaky scenario(s)" + (f": {', '.join(flaky)}" if flaky else "")
        )
    finally:
        subprocess.run([str(args.omnative), "down", "--all"], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
