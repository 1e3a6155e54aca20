"""``omcontract logs``: look for known failure signatures in OpenMeter worker logs.

``omcontract logs scan FILE... [--subscription ID]...`` (``-`` reads standard input) prints one
line per match -- signature, upstream issue, subscription, unique id, attempts, first and last
timestamp -- and exits 1 when a conclusive (known failure) signature matched, 0 when none did,
2 when an input cannot be read.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click

from contract.errors import EXIT_DISAGREE, EXIT_OK, InputError
from contract.limits import MAX_LOG_BYTES, read_input
from contract.model.time import format_time
from contract.stack.failures import FailureGroup, failing_syncs
from contract.stack.signatures import SignatureMatch, scan
from contract.worklog.records import LogRecord, parse_text

__all__ = ["format_match", "logs", "read_inputs"]


def _read_stdin() -> str:
    stream = sys.stdin
    if stream is None or stream.closed:
        raise InputError("standard input is closed; give log files, or pipe the log into `-`", file="-")
    try:
        data = stream.buffer.read(MAX_LOG_BYTES + 1) if hasattr(stream, "buffer") else stream.read().encode()
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read standard input: {err}", file="-") from None
    if len(data) > MAX_LOG_BYTES:
        raise InputError(f"more than {MAX_LOG_BYTES // (1024 * 1024)} MiB on standard input", file="-")
    return data.decode("utf-8", errors="replace")


def read_inputs(paths: Sequence[str]) -> list[LogRecord]:
    """Parse every file (``-`` = standard input); an unreadable one raises :class:`InputError`.

    Files must be regular files of at most :data:`~contract.limits.MAX_LOG_BYTES` (a FIFO or a
    device is refused at once: pipe such input into ``-``)."""
    records: list[LogRecord] = []
    for name in paths:
        if name == "-":
            records.extend(parse_text(_read_stdin(), source="<stdin>"))
            continue
        if Path(name).is_dir():
            raise InputError("is a folder; give the log files in it", file=name)
        data = read_input(Path(name), limit=MAX_LOG_BYTES, what="log file")
        records.extend(parse_text(data.decode("utf-8", errors="replace"), source=name))
    return records


def _when(ts: datetime | None) -> str:
    return format_time(ts) if ts is not None else "-"


def format_match(match: SignatureMatch) -> str:
    """One line: severity, signature, upstream issue, subscription, unique id, attempts, first, last."""
    severity = "CONCLUSIVE" if match.conclusive else "transient"
    return (
        f"{severity:<10}  {match.signature.id:<28}  issue={match.signature.upstream or '-'}  "
        f"subscription={match.subscription_id or '-'}  unique_id={match.unique_id or '-'}  "
        f"attempts={match.attempts}  first={_when(match.first)}  last={_when(match.last)}"
    )


def format_unknown(group: FailureGroup) -> str:
    """A failing sync no signature knows, in the worker's own words (first and last attempt)."""
    head = (
        f"unknown-failure  no known signature  subscription {group.subscription_id}  attempts {group.count}  "
        f"DLQ {'yes' if group.dead_lettered else 'no'}  {_when(group.first_ts)} .. {_when(group.last_ts)}"
    )
    lines = [head, f"    error (first attempt): {group.first_text}"]
    if group.last_text != group.first_text:
        lines.append(f"    error (last attempt): {group.last_text}")
    return "\n".join(lines)


@click.group(name="logs")
def logs() -> None:
    """Read OpenMeter worker logs (JSON lines or slog text)."""


@logs.command(name="scan")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--subscription",
    "subscriptions",
    multiple=True,
    metavar="ID",
    help="Only matches attributed to this subscription (repeatable).",
)
def scan_command(files: tuple[str, ...], subscriptions: tuple[str, ...]) -> int:
    """Find known failure signatures (e.g. openmeter#4412's duplicate unique id) in log FILEs.

    Exit 1 when a conclusive signature matched (a known error, the DLQ, a panic), 0 when none did
    (transient retries alone are listed but do not fail), 2 when a file cannot be read.
    """
    records = read_inputs(files)
    matches = scan(records, subscription_ids=set(subscriptions) if subscriptions else None)
    for match in matches:
        click.echo(format_match(match))
    unknown = [g for g in failing_syncs(records, set(subscriptions) if subscriptions else None) if not g.known]
    for group in unknown:
        click.echo(format_unknown(group))
    conclusive = [m for m in matches if m.conclusive]
    if unknown:
        click.echo(
            f"{len(unknown)} failing sync(s) with no known signature, {len(conclusive)} conclusive of "
            f"{len(matches)} matches in {len(records)} log records",
            err=True,
        )
        return EXIT_DISAGREE
    if conclusive:
        click.echo(f"{len(conclusive)} conclusive of {len(matches)} matches in {len(records)} log records", err=True)
        return EXIT_DISAGREE
    click.echo(f"no known failure signature ({len(matches)} transient matches in {len(records)} log records)", err=True)
    return EXIT_OK
