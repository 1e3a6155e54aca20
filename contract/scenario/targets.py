"""Where scenarios run: a live OpenMeter (attached or booted), the offline fake, or a replay.

Each ``open_*`` function returns a :class:`Session`: the runner's :class:`Environment` plus what
must be closed afterwards. The CLI and the pytest plugin both go through here, so they judge the
same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from contract.client import ApiKey, OpenMeterClient, OpenMeterError, OpenMeterUnreachable
from contract.client.recording import Recorder
from contract.clock import RealClock, VirtualClock
from contract.errors import InputError, NoOpenMeterError
from contract.model import Behaviour
from contract.scenario.environment import Environment, ForceSyncOutcome, PollPolicy
from contract.scenario.model import DEFAULT_END_PRORATION, DEFAULT_PROGRESSIVE_BILLING
from contract.scenario.replay import (
    Recording,
    ReplayLogs,
    ReplaySyncStates,
    ReplayTransport,
    load_recording,
    recorded_force_syncs,
)
from contract.scenario.result import LogEvidence, Target, TargetKind
from contract.worklog.records import LogRecord

#: OpenMeter configurations, as the stack variants name them.
SERVER_CONFIGS: dict[str, dict[str, bool]] = {
    "cti": {"credits": True, "credit_then_invoice": True},
    "no-cti": {"credits": True, "credit_then_invoice": False},
    "no-credits": {"credits": False, "credit_then_invoice": False},
}


def server_config(name: str | None) -> dict[str, bool] | None:
    if name is None:
        return None
    try:
        return dict(SERVER_CONFIGS[name])
    except KeyError:
        raise InputError(
            f"unknown OpenMeter configuration {name!r}; one of {', '.join(SERVER_CONFIGS)}",
            field="--server-config",
        ) from None


def scan_logs(records: Sequence[LogRecord], subscription_ids: Sequence[str]) -> list[LogEvidence]:
    """Worker-log records -> one :class:`LogEvidence` per (signature, subscription) of the run,
    plus one ``unknown-failure`` per failing sync whose error text no signature knows.

    The catalogue (``contract.stack``) groups matches per unique id too. One failing sync can name a
    different duplicated id on each attempt (upstream iterates a Go map), so the evidence of one
    subscription adds its attempts up across unique ids and lists every id it saw. Every piece of
    evidence quotes the worker's own error text (first and last attempt) verbatim."""
    from contract.stack import scan
    from contract.stack.failures import failing_syncs

    grouped: dict[tuple[str, str | None], list[Any]] = {}
    for m in scan(records, subscription_ids=set(subscription_ids)):
        grouped.setdefault((m.signature.id, m.subscription_id), []).append(m)
    evidence = []
    for (signature, subscription), matches in grouped.items():
        first = [m.first for m in matches if m.first is not None]
        last = [m.last for m in matches if m.last is not None]
        ids = sorted({m.unique_id for m in matches if m.unique_id})
        lines = [line for m in matches for line in m.lines]
        texts = [r.error_message for m in matches for r in m.records if r.error_message]
        sig = matches[0].signature
        evidence.append(
            LogEvidence(
                signature=signature,
                title=sig.title,
                upstream_issue=sig.upstream,
                conclusive=any(m.conclusive for m in matches),
                subscription_id=subscription,
                unique_id=", ".join(ids) or None,
                attempts=sum(m.attempts for m in matches),
                first_ts=min(first) if first else None,
                last_ts=max(last) if last else None,
                lines=tuple(lines[-20:]),
                terminal=sig.terminal,
                error_first=texts[0] if texts else None,
                error_last=texts[-1] if texts else None,
            )
        )
    # The DLQ line is written once, under whichever unique id the last attempt named: it stands
    # for every attempt of that subscription's message.
    total = {
        sid: max(ev.attempts for ev in evidence if ev.subscription_id == sid)
        for sid in {e.subscription_id for e in evidence}
    }
    evidence = [replace(ev, attempts=total[ev.subscription_id]) if ev.terminal else ev for ev in evidence]
    for group in failing_syncs(records, subscription_ids):
        if group.known:
            continue
        evidence.append(
            LogEvidence(
                signature="unknown-failure",
                title="a sync failed with an error no known signature matches",
                upstream_issue=None,
                conclusive=True,
                subscription_id=group.subscription_id,
                unique_id=None,
                attempts=group.count,
                first_ts=group.first_ts,
                last_ts=group.last_ts,
                lines=group.lines,
                error_first=group.first_text,
                error_last=group.last_text,
                dead_lettered=group.dead_lettered,
            )
        )
    return evidence


@dataclass
class Session:
    """A runner environment and what to close when the run is over (a context manager)."""

    env: Environment
    closers: ExitStack = field(default_factory=ExitStack)
    recording: Recording | None = None
    replay: ReplayTransport | None = None

    def close(self) -> None:
        self.closers.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_live(
    *,
    url: str | None = None,
    worker_logs: str | None = None,
    postgres: str | None = None,
    force_sync_command: str | None = None,
    image_tag: str | None = None,
    variant: str | None = None,
    keep_stack: bool = False,
    config_name: str | None = None,
    record: Path | None = None,
    poll: PollPolicy | None = None,
    progress: Callable[[str], None] | None = None,
    schema_findings: str = "note",
    openapi_v1: Path | None = None,
    openapi_v3: Path | None = None,
) -> Session:
    """Attach to ``url`` (or $OPENMETER_URL / $OPENMETER_ADDRESS) or boot the compose stack.

    Raises :class:`contract.errors.NoOpenMeterError` (exit 3) within seconds when neither works.
    """
    from contract.stack import StackOptions, connect

    overrides: dict[str, Any] = {
        "url": url,
        "worker_logs": worker_logs,
        "postgres_dsn": postgres,
        "force_sync_command": force_sync_command,
        "image_tag": image_tag,
        "variant": variant,
    }
    options = StackOptions.from_env(**{k: v for k, v in overrides.items() if v is not None})
    if keep_stack:
        options = options.with_(keep_stack=True)
    closers = ExitStack()
    handle = connect(options, progress=progress)  # booting compose reports what it waits for
    closers.callback(handle.close)
    key = ApiKey.from_env()
    recorder = Recorder(record, secrets=[key] if key else []) if record is not None else None
    client = OpenMeterClient(handle.base_url, api_key=key, recorder=recorder, names=handle.client_names)
    closers.callback(client.close)
    if schema_findings != "off":
        from contract.client import ResponseValidator

        try:
            client.validator = ResponseValidator.from_server(client, v1_fallback=openapi_v1, v3_fallback=openapi_v3)
        except OpenMeterUnreachable:
            closers.close()
            raise
        except OpenMeterError as err:  # it answered /version, then failed serving its own API description
            closers.close()
            raise NoOpenMeterError(
                f"OpenMeter at {handle.base_url} is failing: {err} (pass --schema off to skip the response "
                "checks that need this document)"
            ) from None
    build: str | None = None
    if handle.mode == "booted":
        known = dict(SERVER_CONFIGS[options.variant])
        build = f"image {options.image_tag}"
    else:
        known = server_config(config_name or os.environ.get("OPENMETER_CONFIG") or "cti") or {}
        build = os.environ.get("OMNATIVE_REV")

    def force(customer_id: str) -> ForceSyncOutcome | None:
        result = handle.force_sync(customer_id)
        if result is None:
            return None
        detail = f"{result.command}: exit {result.exit_code}" + (" (timed out)" if result.timed_out else "")
        if not result.ok:
            detail += f"; {(result.stderr or result.stdout).strip()[-300:]}"
        return ForceSyncOutcome(result.ok, detail, output=f"{result.stdout}\n{result.stderr}")

    target = Target(TargetKind.LIVE, handle.base_url, version=dict(handle.version), build=build, config=dict(known))
    env = Environment(
        client=client,
        clock=RealClock(),
        target=target,
        logs=handle.logs,
        sync_states=handle.sync_states,
        force_sync=force if handle.can_force_sync else None,
        poll=poll or PollPolicy(),
        progress=progress,
        scan_logs=scan_logs,
        server_config=known,
        schema_findings=schema_findings,
    )
    return Session(env, closers)


def open_offline(
    behaviour: Behaviour,
    *,
    config_name: str = "cti",
    poll: PollPolicy | None = None,
    progress: Callable[[str], None] | None = None,
    record: Path | None = None,
    start: datetime | None = None,
    wrap_transport: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None,
) -> Session:
    """The suite's offline OpenMeter (the reference engine behind one router per resource): not
    evidence about OpenMeter."""
    from contract.model import SyncConfig
    from contract.offline import OfflineOpenMeter

    known = server_config(config_name) or {}
    clock = VirtualClock(start or datetime.now(UTC))
    fake = OfflineOpenMeter(
        behaviour,
        # the default profile OpenMeter provisions bills progressively (public-api.md §2.3)
        config=SyncConfig(
            credits_enabled=known["credits"],
            credit_then_invoice=known["credit_then_invoice"],
            progressive_billing=DEFAULT_PROGRESSIVE_BILLING,
            end_proration=DEFAULT_END_PRORATION,
            auto_advance=True,
        ),
        clock=clock,
    )
    recorder = Recorder(record, wall_clock=clock.now, monotonic=clock.monotonic) if record is not None else None
    transport: httpx.BaseTransport = fake.transport
    if wrap_transport is not None:
        transport = wrap_transport(transport)
    client = OpenMeterClient(fake.base_url, transport=transport, recorder=recorder)
    closers = ExitStack()
    closers.callback(client.close)

    def force(customer_id: str) -> ForceSyncOutcome:
        ok = fake.force_sync(customer_id)
        return ForceSyncOutcome(ok, "offline fake sync", output=fake.last_sync_output)

    target = Target(
        TargetKind.OFFLINE,
        fake.base_url,
        version={"version": f"offline-{behaviour.value}"},
        config=dict(known),
        behaviour=behaviour.value,
    )
    env = Environment(
        client=client,
        clock=clock,
        target=target,
        logs=fake.logs,
        sync_states=fake.sync_states,
        force_sync=force,
        poll=poll or PollPolicy(),
        progress=progress,
        scan_logs=scan_logs,
        server_config=known,
    )
    return Session(env, closers)


def open_replay(
    source: str | Path | Recording, *, poll: PollPolicy | None = None, progress: Callable[[str], None] | None = None
) -> Session:
    """Judge a recorded run again, offline (see :mod:`contract.scenario.replay`); ``source`` is a
    file or an already loaded recording (e.g. one of :meth:`Recording.segments`)."""
    recording = source if isinstance(source, Recording) else load_recording(source)
    path = recording.path
    start = recording.first_time or datetime.now(UTC)
    clock = VirtualClock(start)
    transport = ReplayTransport(recording, clock)
    client = OpenMeterClient(recording.base_url, transport=transport, read_retries=0)
    closers = ExitStack()
    closers.callback(client.close)
    target = Target(TargetKind.REPLAY, recording.base_url, version=recording.version, recording=str(path))

    forced = iter(recorded_force_syncs(recording))

    def force(customer_id: str) -> ForceSyncOutcome:
        # the recorded run forced the sync here; its effect is in the recorded responses that follow,
        # its outcome in a note (recordings from before the note say only that it happened)
        ok, detail, output = next(forced, (True, "replayed: the recorded run forced a subscription sync here", ""))
        return ForceSyncOutcome(ok, detail, output=output)

    env = Environment(
        client=client,
        clock=clock,
        target=target,
        logs=ReplayLogs(recording) if ReplayLogs.carried_by(recording) else None,
        sync_states=ReplaySyncStates(recording) if ReplaySyncStates.carried_by(recording) else None,
        poll=poll or PollPolicy(),
        progress=progress,
        scan_logs=scan_logs,
        force_sync=force,
    )
    return Session(env, closers, recording=recording, replay=transport)
