"""The hostile-input corpus (issue 11): what a careless or hostile user gives ``omcontract``.

For every input the real entry point (:func:`contract.cli.main`, what the console script runs)
must end with the right exit code, exactly one line of message on stderr, no traceback, within
5 seconds, and never print the API key or a URL password. Large inputs are generated here, at
test time; hostile servers are local threads (``servers.py``).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contract.cli import main

from .servers import hostile_server

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "fixtures" / "scenarios" / "issue-4412-cti-cancel-immediately.yaml"
CASE = REPO / "fixtures" / "oracle" / "O10-aligned-subscription-invoicing-cti.yaml"
SECRET = "om-hostile-SECRET-4711"
PASSWORD = "hunter2-hostile"
LIMIT_S = 5.0

Build = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    id: str
    build: Build  # tmp folder -> argv
    code: int
    says: str  # a substring of the one line on stderr
    env: dict[str, str] = field(default_factory=dict)
    server: str | None = None  # hostile server mode; its URL replaces {url} in argv
    userinfo: str = ""  # put into the server's URL (user:password@)


# --------------------------------------------------------------------------- inputs


def _scenario(mutate: Callable[[str], str], name: str = "issue-4412-cti-cancel-immediately") -> Build:
    def build(tmp: Path) -> list[str]:
        text = mutate(SCENARIO.read_text(encoding="utf-8"))
        path = tmp / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return ["explain", str(path)]

    return build


def _scenario_bytes(data: Callable[[], bytes]) -> Build:
    def build(tmp: Path) -> list[str]:
        path = tmp / "issue-4412-cti-cancel-immediately.yaml"
        path.write_bytes(data())
        return ["explain", str(path)]

    return build


def _oracle(mutate: Callable[[str], str]) -> Build:
    def build(tmp: Path) -> list[str]:
        path = tmp / CASE.name
        path.write_text(mutate(CASE.read_text(encoding="utf-8")), encoding="utf-8")
        return ["model", "check", str(path)]

    return build


def _file(command: list[str], content: bytes, name: str = "input") -> Build:
    def build(tmp: Path) -> list[str]:
        path = tmp / name
        path.write_bytes(content)
        return [*command, str(path)]

    return build


def _fifo(command: list[str], name: str) -> Build:
    def build(tmp: Path) -> list[str]:
        path = tmp / name
        os.mkfifo(path)
        return [*command, str(path)]

    return build


def _symlink_loop(command: list[str], name: str) -> Build:
    def build(tmp: Path) -> list[str]:
        path = tmp / name
        path.symlink_to(path)
        return [*command, str(path)]

    return build


def _touch(path: Path) -> Path:
    path.write_text("")
    return path


def _recorded(tmp: Path, scenario: str) -> Path:
    """A recording of one offline run of ``scenario`` (made with ``omcontract run --record``)."""
    path = tmp / "run.jsonl"
    assert main(["run", "--offline", "head", "-q", "--record", str(path), f"fixtures/scenarios/{scenario}.yaml"]) == 0
    return path


def _recorded_then(mutate: Callable[[str], str]) -> Build:
    """``replay`` of a fresh offline recording, edited as a careless or hostile hand would."""

    def build(tmp: Path) -> list[str]:
        path = _recorded(tmp, "cancel-next-billing-cycle")
        path.write_text(mutate(path.read_text()))
        return ["replay", str(path)]

    return build


def _subscription_set(keys: tuple[str, ...], value: object) -> Callable[[str], str]:
    """Set ``keys`` of every recorded subscription answer (not of its items) to ``value``."""

    def mutate(text: str) -> str:
        lines = []
        for line in text.splitlines():
            record = json.loads(line)
            body = record.get("response_body")
            for key in keys:
                if isinstance(body, dict) and key in body and "phases" in body:
                    body[key] = value
            lines.append(json.dumps(record))
        return "\n".join(lines) + "\n"

    return mutate


def _argv(*args: str) -> Build:
    return lambda tmp: [a.replace("{tmp}", str(tmp)) for a in args]


def _replace(old: str, new: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return mutate


def _bomb(indent: str = "") -> str:
    lines = [f'{indent}a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"{indent}a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _flow_bomb() -> str:
    """``[&a0 [x × 9], &a1 [*a0 × 9], … &a8 [*a7 × 9]]``: 9**9 values once expanded."""
    parts = ["&a0 [" + ", ".join(["x"] * 9) + "]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "[" + ", ".join(parts) + "]"


def _deep_json_line() -> bytes:
    return b'{"kind": "http", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"


def _recording_line(ts: str) -> bytes:
    return (
        b'{"kind": "http", "method": "GET", "url": "http://127.0.0.1:1/version", "status": 200, '
        b'"ts": "' + ts.encode() + b'", "response_body": {"version": "x"}}\n'
    )


SUBSCRIBE = "subscribe: {plan: usage, settlement_mode: credit_then_invoice}"
BAD_INPUT = 2
NO_OPENMETER = 3

CASES: list[Case] = [
    # -- far-off times: refused at load (were ValueError: year out of range, mid-run)
    Case(
        "anchor-99999-years",
        _scenario(_replace(SUBSCRIBE, SUBSCRIBE[:-1] + ", billing_anchor: now+P99999Y}")),
        BAD_INPUT,
        "reach more than 100 years",
    ),
    Case(
        "anchor-3000-years-ago",
        _scenario(_replace(SUBSCRIBE, SUBSCRIBE[:-1] + ", billing_anchor: now-P3000Y}")),
        BAD_INPUT,
        "reach more than 100 years",
    ),
    Case(
        "ingest-9000-years-ahead",
        _scenario(_replace('values: ["7", "5"]}', 'values: ["7", "5"], at: now+P9000Y}')),
        BAD_INPUT,
        "steps[1].ingest.at",
    ),
    Case(
        "cancel-8000-years-ahead",
        _scenario(_replace("cancel: {timing: immediate}", "cancel: {timing: now+P8000Y}")),
        BAD_INPUT,
        "steps[3].cancel.timing: bad timing 'now+P8000Y'",
    ),
    Case(
        "anchor-offsets-add-up",
        _scenario(_replace(SUBSCRIBE, SUBSCRIBE[:-1] + ", billing_anchor: now+P60Y+P60Y}")),
        BAD_INPUT,
        "reach more than 100 years",
    ),
    Case(
        "oracle-cadence-99999999-years",
        _oracle(_replace("billing_cadence: P4W", "billing_cadence: P99999999Y")),
        BAD_INPUT,
        "longer than 100 years",
    ),
    Case(
        "oracle-as-of-year-9999",
        _oracle(_replace('as_of: "2024-01-03T12:00:00Z"', 'as_of: "9999-12-31T23:59:59Z"')),
        BAD_INPUT,
        "outside the supported range",
    ),
    Case(
        "oracle-amount-exponent",
        _oracle(_replace('amount: "5", payment_term: in_advance', 'amount: "1e999999999", payment_term: in_advance')),
        BAD_INPUT,
        "not a plain decimal number",
    ),
    Case(
        "oracle-negative-amount",
        _oracle(_replace('amount: "5", payment_term: in_advance', 'amount: "-5", payment_term: in_advance')),
        BAD_INPUT,
        "must not be negative",
    ),
    Case(
        "oracle-lowercase-cadence",
        _oracle(_replace("billing_cadence: P4W", "billing_cadence: p4w")),
        BAD_INPUT,
        "in capitals",
    ),
    Case(
        "scenario-lowercase-cadence",
        _scenario(_replace("billing_cadence: P1M, price: {type: unit", "billing_cadence: p1m, price: {type: unit")),
        BAD_INPUT,
        "in capitals",
    ),
    Case(
        "scenario-amount-exponent",
        _scenario(_replace('amount: "0.10"}}', 'amount: "1e999999999"}}')),
        BAD_INPUT,
        "not a decimal number",
    ),
    # -- nesting and alias bombs
    Case("scenario-5000-flow-brackets", _scenario_bytes(lambda: b"[" * 5000 + b"]" * 5000), BAD_INPUT, "nested deeper"),
    Case(
        "scenario-3000-deep-mapping",
        _scenario_bytes(lambda: b"{a: " * 3000 + b"1" + b"}" * 3000),
        BAD_INPUT,
        "nested deeper than 64 levels",
    ),
    Case(
        "scenario-alias-bomb-in-expect-items",
        _scenario(_replace("      items:\n", f"      items: {_flow_bomb()}\n      other_items:\n")),
        BAD_INPUT,
        "alias bomb",
    ),
    Case(
        "oracle-alias-bomb-under-unknown-key",
        _oracle(lambda text: text.replace("note:", "unknown:\n" + _bomb("  ") + "note:", 1)),
        BAD_INPUT,
        "alias bomb",
    ),
    Case("oracle-alias-bomb-as-note", _oracle(lambda text: _bomb() + text), BAD_INPUT, "alias bomb"),
    Case("oracle-recursive-alias", _oracle(lambda text: "loop: &l [*l]\n" + text), BAD_INPUT, "contains it"),
    Case(
        "k-3000-parentheses",
        _argv("run", "--offline", "head", "-k", "(" * 3000 + "x" + ")" * 3000),
        BAD_INPUT,
        "nested 'not's and parentheses",
    ),
    Case("k-3000-nots", _argv("run", "--offline", "head", "-k", "not " * 3000 + "x"), BAD_INPUT, "nested"),
    Case("replay-deep-json", _file(["replay"], _deep_json_line(), "deep.jsonl"), BAD_INPUT, "deep.jsonl:1: nested"),
    # -- options
    Case("deadline-nan", _argv("run", "--offline", "head", "--deadline", "nan"), BAD_INPUT, "--deadline"),
    Case("deadline-not-a-number", _argv("run", "--deadline", "soon"), BAD_INPUT, "(see omcontract run -h)"),
    Case("unknown-option", _argv("explain", "--frobnicate"), BAD_INPUT, "No such option '--frobnicate'"),
    Case("deadline-inf", _argv("run", "--offline", "head", "--deadline", "inf"), BAD_INPUT, "--deadline"),
    Case("record-dev-full", _argv("run", "--offline", "head", "--record", "/dev/full"), BAD_INPUT, "already exists"),
    Case(
        "record-append-dev-full",
        _argv("run", "--offline", "head", "-q", "-k", "cancel-next", "--record", "/dev/full", "--record-append"),
        BAD_INPUT,
        "cannot write the recording",
    ),
    Case(
        "record-missing-folder",
        _argv("run", "--offline", "head", "--record", "/nonexistent/dir/r.jsonl"),
        BAD_INPUT,
        "does not exist",
    ),
    Case(
        "junit-missing-folder",
        _argv("run", "--offline", "head", "--junit", "/nonexistent/dir/j.xml"),
        BAD_INPUT,
        "does not exist",
    ),
    Case(
        "report-md-missing-folder",
        _argv("replay", "--report-md", "{tmp}/no/r.md", "x.jsonl"),
        BAD_INPUT,
        "does not exist",
    ),
    Case(
        "scenario-timestamp-year-9999",
        _scenario(_replace(SUBSCRIBE, SUBSCRIBE[:-1] + ', billing_anchor: "9999-01-01T00:00:00Z"}')),
        BAD_INPUT,
        "outside the supported range",
    ),
    Case(
        "explain-bogus-behaviour",
        lambda tmp: ["explain", "--behaviour", "bogus", str(SCENARIO)],
        BAD_INPUT,
        "--behaviour",
    ),
    Case("url-broken-ipv6", _argv("run", "--openmeter-url", "http://[::1"), BAD_INPUT, "not a valid URL"),
    # -- files that are not files
    Case("run-dev-zero", _argv("run", "--offline", "head", "/dev/zero"), BAD_INPUT, "device"),
    Case("explain-dev-zero", _argv("explain", "/dev/zero"), BAD_INPUT, "device"),
    Case("replay-dev-zero", _argv("replay", "/dev/zero"), BAD_INPUT, "device"),
    Case("logs-dev-zero", _argv("logs", "scan", "/dev/zero"), BAD_INPUT, "device"),
    Case("model-check-dev-zero", _argv("model", "check", "/dev/zero"), BAD_INPUT, "device"),
    Case("run-fifo", _fifo(["run", "--offline", "head"], "s.yaml"), BAD_INPUT, "FIFO"),
    Case("explain-fifo", _fifo(["explain"], "s.yaml"), BAD_INPUT, "FIFO"),
    Case("replay-fifo", _fifo(["replay"], "r.jsonl"), BAD_INPUT, "FIFO"),
    Case("logs-fifo", _fifo(["logs", "scan"], "w.log"), BAD_INPUT, "FIFO"),
    Case("model-show-fifo", lambda tmp: [*_fifo(["model", "show"], "c.yaml")(tmp), "--step", "1"], BAD_INPUT, "FIFO"),
    Case("model-check-fifo", _fifo(["model", "check"], "c.yaml"), BAD_INPUT, "FIFO"),
    Case("run-symlink-loop", _symlink_loop(["run", "--offline", "head"], "loop.yaml"), BAD_INPUT, "symbolic link loop"),
    Case("model-check-symlink-loop", _symlink_loop(["model", "check"], "loop.yaml"), BAD_INPUT, "symbolic link loop"),
    Case("explain-symlink-loop", _symlink_loop(["explain"], "loop.yaml"), BAD_INPUT, "symbolic link loop"),
    Case(
        "explain-oversized", _file(["explain"], b"# " + b"x" * (300 * 1024) + b"\n", "big.yaml"), BAD_INPUT, "too large"
    ),
    Case(
        "explain-nul-byte",
        _scenario(_replace("title:", "title: \x00")),
        BAD_INPUT,
        "issue-4412-cti-cancel-immediately.yaml:2: contains a NUL byte",
    ),
    Case("replay-latin1", _file(["replay"], b'{"kind": "note", "x": "\xe9"}\n', "l.jsonl"), BAD_INPUT, "not UTF-8"),
    Case("replay-utf16", _file(["replay"], '{"kind": "note"}\n'.encode("utf-16"), "u.jsonl"), BAD_INPUT, "UTF-16"),
    Case(
        "replay-year-9999",
        _file(["replay"], _recording_line("9999-12-31T23:59:59Z"), "y.jsonl"),
        BAD_INPUT,
        "outside the supported range",
    ),
    # -- expectations checked at load time, at their own line
    Case(
        "expect-typo-backend",
        _scenario(_replace("charge, mirror: true}\n  - ingest", "chrage, mirror: true}\n  - ingest")),
        BAD_INPUT,
        ":57: steps[0].expect.items[1].backend: unknown backend 'chrage'",
    ),
    # -- secrets
    Case(
        "api-key-with-newline",
        _argv("run", "--openmeter-url", "http://127.0.0.1:9"),
        BAD_INPUT,
        "API key",
        env={"OPENMETER_API_KEY": f"{SECRET}\nX-Evil: 1"},
    ),
    Case(
        "api-key-non-ascii",
        _argv("run", "--openmeter-url", "http://127.0.0.1:9"),
        BAD_INPUT,
        "API key",
        env={"OPENMETER_API_KEY": f"{SECRET}é"},
    ),
    Case(
        "url-password-unreachable",
        _argv("run", "-q", "--openmeter-url", f"http://user:{PASSWORD}@127.0.0.1:9"),
        NO_OPENMETER,
        "user:***@127.0.0.1",
    ),
    # -- worker logs: linear in the line length, deep JSON skipped
    Case(
        "logs-10mb-line",
        _file(["logs", "scan"], b"time=2026 level=ERROR msg=" + b"b" * 10_000_000 + b"\n", "w.log"),
        0,
        "no known failure signature",
    ),
    Case(
        "logs-100kb-token",
        _file(["logs", "scan"], b"a" * 100_000 + b" level=ERROR msg=x\n", "w.log"),
        0,
        "no known failure signature",
    ),
    Case(
        "logs-16kb-cut-mid-quote",
        _file(
            ["logs", "scan"], b'time=2026-01-01T00:00:00Z level=ERROR msg="' + b'abc \\" def ' * 1400 + b"\n", "w.log"
        ),
        0,
        "no known failure signature",
    ),
    Case(
        "logs-deep-json",
        _file(["logs", "scan"], b'{"level": "error", "x": ' + b"[" * 100_000 + b"\n", "w.log"),
        0,
        "in 0 log records",
    ),
    # -- a recording is one run: an existing file is refused unless appended to on purpose
    Case(
        "record-existing-file",
        lambda tmp: ["run", "--offline", "head", "--record", str(_touch(tmp / "r.jsonl"))],
        BAD_INPUT,
        "--record-append",
    ),
    Case(
        "replay-of-another-scenario",
        lambda tmp: [
            "replay",
            "--scenario",
            "fixtures/scenarios/renewal.yaml",
            str(_recorded(tmp, "cancel-next-billing-cycle")),
        ],
        BAD_INPUT,
        "not 'renewal'",
    ),
    Case(
        "replay-url-broken-ipv6",
        _recorded_then(lambda text: text.replace('"url": "http://offline.', '"url": "http://[::1', 1)),
        BAD_INPUT,
        ":2: url: not a URL",
    ),
    Case(
        "replay-run-id-path",
        _recorded_then(lambda text: re.sub(r'"run_id": "[^"]*"', '"run_id": "../../etc"', text, count=1)),
        BAD_INPUT,
        ":1: run_id: '../../etc' is not a run id",
    ),
    # -- recorded answers the engine cannot model: the step is judged by the invariants only and a note
    #    says why (exit 0) — never a traceback in the engine's calendar arithmetic
    Case(
        "replay-response-cadence-not-a-duration",
        _recorded_then(_subscription_set(("billing_cadence", "billingCadence"), "1970-01-01T00:00:00Z")),
        0,
        "billing cadence '1970-01-01T00:00:00Z' is not an ISO-8601 duration",
    ),
    Case(
        "replay-response-subscription-in-year-9999",
        _recorded_then(_subscription_set(("active_from", "activeFrom"), "9999-12-31T00:00:00Z")),
        0,
        "outside the supported range",
    ),
    Case(
        "replay-response-negative-cadence",
        _recorded_then(_subscription_set(("billing_cadence", "billingCadence"), "-P1M")),
        0,
        "billing cadence -P1M is not positive",
    ),
    Case(
        "replay-response-subscription-without-phases",
        _recorded_then(_subscription_set(("phases",), [])),
        0,
        "no phases",
    ),
    # -- hostile servers
    Case(
        "server-drips-run",
        _argv("run", "-q", "--openmeter-url", "{url}"),
        NO_OPENMETER,
        "did not answer within",
        server="drip",
    ),
    Case(
        "server-drips-stack-status",
        _argv("stack", "status", "--openmeter-url", "{url}"),
        NO_OPENMETER,
        "did not answer within",
        server="drip",
    ),
    Case(
        "server-version-then-hangs",
        _argv("run", "-q", "--openmeter-url", "{url}"),
        NO_OPENMETER,
        "no complete answer within 3 s",
        server="version-then-hang",
    ),
    Case(
        "server-openapi-500",
        _argv("run", "-q", "--openmeter-url", "{url}"),
        NO_OPENMETER,
        "is failing",
        server="openapi-500",
    ),
    Case(
        "server-setup-500",
        _argv("run", "-q", "--openmeter-url", "{url}", "fixtures/scenarios/plan-edit.yaml"),
        NO_OPENMETER,
        "could not run: setup failed",
        server="setup-500",
    ),
    Case(
        "server-answers-json-nested-100000-deep",
        _argv("run", "-q", "--openmeter-url", "{url}", "fixtures/scenarios/plan-edit.yaml"),
        NO_OPENMETER,
        "could not run: setup failed",
        server="deep-json",
    ),
    Case(
        "server-setup-500-url-password-in-report",
        lambda tmp: [
            "run",
            "-q",
            "--report-md",
            str(tmp / "r.md"),
            "--openmeter-url",
            "{url}",
            "fixtures/scenarios/plan-edit.yaml",
        ],
        NO_OPENMETER,
        "could not run: setup failed",
        server="setup-500",
        userinfo=f"ops:{PASSWORD}@",
    ),
]


Outcome = tuple[int, str, str, float]  # exit code, stdout (+ written reports), stderr, seconds


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OPENMETER_", "OMNATIVE_", "OMCONTRACT_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(REPO)


@pytest.fixture(autouse=True)
def _no_openmeter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)


@pytest.fixture(autouse=True, scope="module")
def _warm() -> None:
    """Import what the CLI imports lazily (commands, the offline fake, reports) before any clock
    starts: the 5 s bound is on what an input makes the CLI do, not on a first import."""
    import contract.offline
    import contract.report  # noqa: F401

    main(["--version"])


class _PerThread(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` stand-in that sends each thread's writes to its own buffer."""

    def __init__(self) -> None:
        self._local = threading.local()

    def capture(self) -> io.StringIO:
        self._local.buffer = io.StringIO()
        return self._local.buffer

    def write(self, text: str) -> int:
        return int(self._local.buffer.write(text))

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def _server_case(case: Case, tmp: Path, out: _PerThread, err: _PerThread) -> Outcome:
    out_buffer, err_buffer = out.capture(), err.capture()
    assert case.server is not None and not case.env
    with hostile_server(case.server) as url:
        url = url.replace("://", "://" + case.userinfo)
        argv = [a.replace("{url}", url) for a in case.build(tmp)]
        started = time.monotonic()
        code = main(argv)
        elapsed = time.monotonic() - started
    reports = "".join(p.read_text() for p in tmp.glob("*.md"))
    return code, out_buffer.getvalue() + reports, err_buffer.getvalue(), elapsed


@pytest.fixture(scope="module")
def server_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every hostile-server case run at once, each in its own thread (they mostly wait on
    deadlines: together they take as long as the slowest, not the sum)."""
    cases = [c for c in CASES if c.server is not None]
    # import what the cases import lazily (the CLI's commands, openapi-core): the 5 s bound is
    # about waiting on a server, not about the first import of a library
    import contract.client.validation
    import contract.stack.connection  # noqa: F401

    main(["--version"])
    out, err = _PerThread(), _PerThread()
    outcomes: dict[str, Outcome] = {}
    with pytest.MonkeyPatch.context() as patch:
        _clean_env(patch)
        patch.setattr(sys, "stdout", out)
        patch.setattr(sys, "stderr", err)

        def run(case: Case) -> None:
            outcomes[case.id] = _server_case(case, tmp_path_factory.mktemp(case.id), out, err)

        threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in cases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return outcomes


def _run(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Outcome:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    argv = case.build(tmp_path)
    started = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    return code, out, err, elapsed


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_ends_in_one_line_and_the_right_exit_code(
    case: Case,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if case.server is not None:
        code, out, err, elapsed = request.getfixturevalue("server_outcomes")[case.id]
    else:
        code, out, err, elapsed = _run(case, tmp_path, capsys, monkeypatch)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, err
    if case.code == 0:  # no error: what it says (a note, a summary) is in the output
        assert len(lines) <= 1, err
        assert case.says in out + err, out + err
    else:
        assert len(lines) == 1, err
        assert lines[0].startswith("omcontract: ") and case.says in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert SECRET not in out + err and PASSWORD not in out + err
    assert elapsed < LIMIT_S, f"{case.id} took {elapsed:.1f} s"
    if case.userinfo:  # the URL is shown, its password masked, in the terminal and the Markdown report
        assert out.count("ops:***@") >= 2, out


def test_the_corpus_is_large_enough_to_mean_something() -> None:
    assert len(CASES) >= 50
    assert len({c.id for c in CASES}) == len(CASES)
