"""The observer: what OpenMeter shows after a step, read back until it is quiet, and the worker's log.

:meth:`Observer.await_sync` polls charges (v3) and invoices (v1) with backoff until they match
what the judge expects and :attr:`PollPolicy.quiet_snapshots` consecutive snapshots agree, or the
step's deadline passes — stopping early once the worker log shows the sync failing for the run (the
DLQ line, or a conclusive failure on :data:`REPEATED_FAILURE_ATTEMPTS` attempts after
:data:`REPEATED_FAILURE_AFTER_S` seconds). It returns an :class:`Observation` value. The observer
also takes the step's worker-log mark, reads the evidence since it, and the sync-state table.

The observer does not judge: it is handed the comparison to poll against (``judge``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from contract.client import OpenMeterProblem
from contract.client.models import Charge
from contract.compare import Finding
from contract.model import Snapshot, format_time
from contract.scenario.environment import Environment, StopScenario
from contract.scenario.mapping import observe
from contract.scenario.model import Step
from contract.scenario.result import LogEvidence
from contract.scenario.runstate import RunState
from contract.worklog.records import LogRecord, parse_text

#: A failure seen on this many delivery attempts, for this long into the step, is taken as
#: deterministic and polling stops waiting. The worker's quick retries reach the DLQ within seconds
#: (then polling stops at the DLQ line, with the whole evidence); a slower retry policy is cut here
#: instead of at the step's deadline.
REPEATED_FAILURE_ATTEMPTS = 3
REPEATED_FAILURE_AFTER_S = 8.0

#: Observed snapshots -> the differences from what the step expects (the judge's comparison).
Judging = Callable[[dict[str, Snapshot]], list[Finding]]


@dataclass(frozen=True, slots=True)
class Observation:
    """What polling after a step ended with."""

    observed: dict[str, Snapshot]  # per subscription of the run
    findings: tuple[Finding, ...]  # the differences at the last read
    quiet: bool  # the last reads agreed with each other
    waited_s: float  # from the first read to the last
    notes: tuple[str, ...] = ()  # reads that failed on the way (they do not change the verdict)


class Observer:
    """Reads OpenMeter's state and the worker log for the runner; holds nothing between steps."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    # ---------------------------------------------------------------- OpenMeter's state
    def predicted(self, run: RunState) -> dict[str, Snapshot]:
        return {sid: run.timeline.snapshot(sid, run.customer_id) for sid in run.subscriptions}

    def observe(self, run: RunState, predicted: dict[str, Snapshot]) -> dict[str, Snapshot]:
        charges = self.charges(run)
        invoices = self.env.client.list_invoices(run.customer_id)
        return {sid: observe(sid, charges, invoices, run.index, predicted.get(sid)) for sid in run.subscriptions}

    def charges(self, run: RunState) -> list[Charge]:
        """The customer's charges; none where OpenMeter runs without a charges stack.

        With ``credits.enabled: false`` the v3 charges endpoint answers 501 Not Implemented
        (observed live): there are no charges to read, which is what the engine predicts."""
        if self.env.server_config is not None and self.env.server_config.get("credits") is False:
            return []
        try:
            return list(self.env.client.list_charges(run.customer_id))
        except OpenMeterProblem as err:
            if err.status == 501:
                return []
            raise

    def refreshed(self, run: RunState) -> dict[str, Snapshot]:
        """What OpenMeter shows now (after a step that awaits no sync); nothing before a subscription."""
        if not run.subscriptions:
            return run.last_observed
        return self.observe(run, self.predicted(run))

    def await_sync(
        self,
        run: RunState,
        step: Step,
        predicted: dict[str, Snapshot],
        judge: Judging,
        log_mark: object | None,
    ) -> Observation:
        clock, poll = self.env.clock, self.env.poll
        deadline = clock.monotonic() + poll.deadline_s
        intervals = poll.intervals()
        previous: dict[str, Snapshot] | None = None
        quiet = 0
        observed: dict[str, Snapshot] = {}
        findings: list[Finding] = []
        notes: list[str] = []
        polls = 0
        max_polls = int(poll.deadline_s / poll.first_interval_s) + 10  # a bound even if a clock stalls
        while True:
            polls += 1
            if polls > max_polls:
                raise StopScenario(f"polling after {step.label} did not reach its deadline in {max_polls} reads")
            try:
                observed = self.observe(run, predicted)
            except OpenMeterProblem as err:
                # A server error on a read while OpenMeter is mid-change: note it and keep polling;
                # if it lasts until the deadline it is the step's answer (raised to the caller).
                if (err.status or 0) < 500 or clock.monotonic() >= deadline:
                    raise
                notes.append(f"{err} — answered during the sync; a later read was tried")
                clock.sleep(min(next(intervals), max(deadline - clock.monotonic(), 0.0)))
                continue
            findings = judge(observed)
            quiet = quiet + 1 if previous is not None and same(previous, observed) else 1
            previous = observed
            if not findings and quiet >= poll.quiet_snapshots:
                break
            if clock.monotonic() >= deadline:
                break
            waited = clock.monotonic() - (deadline - poll.deadline_s)
            if findings and quiet >= poll.quiet_snapshots and self.sync_failed(run, log_mark, waited):
                break  # the worker already failed this sync: waiting longer changes nothing
            remaining = deadline - clock.monotonic()
            self.env.say(
                f"{run.scenario.id}: waiting for sync after {step.label} "
                f"({len(findings)} difference(s), {remaining:.0f}s left)"
            )
            clock.sleep(min(next(intervals), max(remaining, 0.0)))
        waited = clock.monotonic() - (deadline - poll.deadline_s)
        return Observation(observed, tuple(findings), quiet >= poll.quiet_snapshots, waited, tuple(notes))

    # ---------------------------------------------------------------- evidence
    def log_mark(self) -> object | None:
        if self.env.logs is None:
            return None
        try:
            mark: object = self.env.logs.mark()
        except Exception:
            return None
        return mark

    def log_records(self, log_mark: object | None) -> list[LogRecord]:
        if self.env.logs is None or log_mark is None:
            return []
        try:
            return list(self.env.logs.read_from(log_mark))
        except Exception:
            return []

    def log_evidence(self, run: RunState, log_mark: object | None) -> list[LogEvidence]:
        if self.env.scan_logs is None:
            return []
        return self.env.scan_logs(self.log_records(log_mark), run.subscriptions)

    def text_evidence(self, run: RunState, text: str) -> list[LogEvidence]:
        """The evidence in the log text a step printed outside the worker log (a jobs command)."""
        if not text or self.env.scan_logs is None:
            return []
        return self.env.scan_logs(parse_text(text, source="sync job"), run.subscriptions)

    def sync_failed(self, run: RunState, log_mark: object | None, waited_s: float) -> bool:
        """True once the worker log shows this run's sync failing: the DLQ line, or a failure (known
        conclusive or unknown) repeated over attempts — retries of a deterministic error change nothing."""
        for ev in self.log_evidence(run, log_mark):
            if ev.subscription_id not in (None, *run.subscriptions):
                continue
            repeated = ev.conclusive and ev.attempts >= REPEATED_FAILURE_ATTEMPTS
            if ev.terminal or (repeated and waited_s >= REPEATED_FAILURE_AFTER_S):
                return True
        return False

    def synced_at(self, run: RunState) -> datetime | None:
        """When the sync-state table last saw a successful sync of the current subscription. A
        recording notes every answer (``sync_state``), so a replay reads the same ones."""
        if self.env.sync_states is None or run.subscription_id is None:
            return None
        try:
            row = self.env.sync_states.get(run.subscription_id)
        except Exception:
            row = None
        synced = row.synced_at if row is not None else None
        recorder = self.env.client.recorder
        if recorder is not None:
            recorder.note(
                "sync_state",
                subscription=run.subscription_id,
                synced_at=format_time(synced) if synced is not None else None,
            )
        return synced


def same(a: dict[str, Snapshot], b: dict[str, Snapshot]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] for k in a)
