"""Explore throughput: examples per minute against the OpenMeter in $OPENMETER_URL, by --jobs.

Runs ``omcontract explore`` (fixed seed, nothing written outside a temporary folder) once per
``--jobs`` value and prints examples/minute, failing examples and classes found. Target (issue
10): at least 20 examples a minute against native OpenMeter on a 2-core machine. A script that
prints figures, never a timed test.

    eval "$(../shared/tools/openmeter-native/omnative up)"
    python benchmarks/bench_explore.py [--examples 60] [--jobs 1 3] [--seed 1]
    python benchmarks/bench_explore.py --offline head      # the suite's own overhead, no server
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"^explore: (?P<n>\d+) example\(s\) in (?P<s>\d+)s \((?P<rate>[\d.]+)/min\), (?P<failing>\d+) failing, "
    r"(?P<classes>\d+) class\(es\) found",
    re.M,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--offline", metavar="BEHAVIOUR", help="against the offline fake instead of $OPENMETER_URL")
    args = parser.parse_args()
    if args.offline is None and not (os.environ.get("OPENMETER_URL") or os.environ.get("OPENMETER_ADDRESS")):
        print('no OpenMeter: set OPENMETER_URL (e.g. eval "$(omnative up)") or pass --offline head', file=sys.stderr)
        return 3
    omcontract = Path(sys.executable).with_name("omcontract")
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory(prefix="bench-explore-") as out:
            cmd = [str(omcontract), "explore", "-q", "--examples", str(args.examples), "--seed", str(args.seed)]
            cmd += ["--jobs", str(jobs), "--out", out]
            if args.offline:
                cmd += ["--offline", args.offline]
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False)
        found = SUMMARY.search(done.stdout)
        if found is None:
            print(f"jobs {jobs}: no summary (exit {done.returncode}): {done.stderr.strip()[-300:]}")
            continue
        print(
            f"jobs {jobs}: {found['n']} examples in {found['s']} s = {found['rate']} examples/min; "
            f"{found['failing']} failing, {found['classes']} class(es) (exit {done.returncode})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
