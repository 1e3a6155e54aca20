"""``omcontract model``: the reference engine on its own.

* ``omcontract model check PATH... [--behaviour head|issue-4412]`` — run oracle cases (files or
  folders of ``*.yaml``) through the engine; one line per case (PASS/FAIL, id, milliseconds) and
  a readable diff per failure. Exit 0 when every case passes, 1 on a failure, 2 on bad input.
* ``omcontract model show CASE --step N [--behaviour ...]`` — the engine's artifacts after step N
  (1-based) as a table.

With ``--behaviour issue-4412`` cases that resync a credit_then_invoice subscription fail with
``duplicate unique id across persisted lines and charges`` — the switch to the historical loader.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from contract.compare.diff import show
from contract.compare.findings import Finding, FindingKind
from contract.errors import EXIT_DISAGREE, EXIT_OK, InputError
from contract.model.engine import Behaviour, Engine
from contract.model.money import format_money
from contract.model.snapshot import Artifact, Snapshot
from contract.oracle.case import load_case, load_cases
from contract.oracle.runner import CaseResult, run_case
from contract.report.console import output_console

_BEHAVIOURS = [b.value for b in Behaviour]


def _behaviour(name: str) -> Behaviour:
    try:
        return Behaviour.parse(name)
    except ValueError as err:
        raise InputError(str(err), field="--behaviour") from None


def finding_text(f: Finding) -> str:
    """One finding as ``check`` prints it (step, id, field, expected vs actual)."""
    where = f.step or ""
    if f.kind is FindingKind.MISSING:
        what = f"missing {f.id or f.field}"
        if f.field and f.id:
            what += f" {f.field}"
        return f"{where}  {what}: expected {f.expected}, got {f.actual}"
    if f.kind is FindingKind.EXTRA:
        note = f" ({f.message})" if f.field or not f.id else ""
        return f"{where}  extra {f.id or f.field}: {f.actual}{note}"
    if f.kind is FindingKind.DIFFERENT:
        target = " ".join(p for p in (f.id, f.field) if p)
        return f"{where}  {target}: expected {f.expected}, got {f.actual}"
    if f.kind is FindingKind.ERROR:
        return f"{where}  {f.message}: expected {f.expected}, got {f.actual}"
    return f"{where}  {f.kind.value}: {f.message}"


@click.group(name="model")
def model() -> None:
    """The reference sync engine: check oracle cases, show what it produces."""


@model.command("check")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--behaviour",
    "behaviour_name",
    default=Behaviour.HEAD.value,
    show_default=True,
    type=click.Choice(_BEHAVIOURS, case_sensitive=False),
    help="head: OpenMeter HEAD; issue-4412: the loader of the #4412 window.",
)
def check(paths: tuple[str, ...], behaviour_name: str) -> int:
    """Run oracle cases (files or folders) through the reference engine."""
    behaviour = _behaviour(behaviour_name)
    cases = load_cases(list(paths))
    failed = 0
    total_ms = 0.0
    for case in cases:
        result = run_case(case, behaviour)
        total_ms += result.elapsed_ms
        status = "PASS" if result.passed else "FAIL"
        click.echo(f"{status}  {case.id}  {result.elapsed_ms:.0f} ms")
        if not result.passed:
            failed += 1
            for finding in result.findings:
                click.echo(f"      {finding_text(finding)}")
    passed = len(cases) - failed
    click.echo(
        f"{len(cases)} case(s): {passed} passed, {failed} failed (behaviour {behaviour.value}, {total_ms:.0f} ms)"
    )
    return EXIT_OK if failed == 0 else EXIT_DISAGREE


def _period(p: object) -> str:
    return show(p) if p is not None else ""


def _artifact_table(title: str, items: tuple[Artifact, ...]) -> Table:
    table = Table(title=title, show_lines=False)
    for col in (
        "id",
        "backend",
        "status",
        "service period",
        "full service period",
        "billing period",
        "invoice at",
        "amount",
        "mirror",
        "object id",
    ):
        table.add_column(col, overflow="fold")
    for a in items:
        mirror = ""
        if a.mirror is not None:
            m = a.mirror
            mirror = f"{_period(m.service_period)} @ {show(m.invoice_at)} = {format_money(m.amount)}"
        elif a.backend.value == "charge":
            mirror = "none"
        amount = format_money(a.amount)
        if a.amount_before_proration is not None:
            amount += f" (of {format_money(a.amount_before_proration)})"
        sp = _period(a.service_period)
        if a.group_service_period is not None:
            sp += f" (group {_period(a.group_service_period)})"
        table.add_row(
            a.id,
            a.backend.value,
            a.status or "",
            sp,
            _period(a.full_service_period),
            _period(a.billing_period),
            show(a.invoice_at),
            amount,
            mirror,
            a.object_id or "",
        )
    return table


def _render(console: Console, result: CaseResult, index: int, snapshot: Snapshot) -> None:
    outcome = result.steps[index]
    console.print(f"[bold]{result.case.id}[/bold] after {outcome.step.label} (behaviour {result.behaviour.value})")
    if snapshot.error:
        console.print(f"[red]sync error:[/red] {snapshot.error}")
    console.print(_artifact_table("items", snapshot.items))
    if snapshot.deleted_charges:
        console.print(_artifact_table("deleted charges", snapshot.deleted_charges))
    for line in snapshot.invoiced:
        console.print(
            f"invoiced: {line.id} {_period(line.service_period)} "
            f"invoice_at {show(line.invoice_at)} amount {format_money(line.amount)}"
        )
    console.print(f"gathering invoice: {'yes' if snapshot.gathering_invoice_exists else 'no'}")
    if snapshot.sync_state is not None:
        nxt = show(snapshot.sync_state.next_sync_after)
        billables = show(snapshot.sync_state.has_billables)
        console.print(f"sync state: has_billables={billables} next_sync_after={nxt}")
    if snapshot.operations is not None:
        ops = snapshot.operations
        console.print(
            f"operations: create={ops.create} delete={ops.delete} shrink={ops.shrink} "
            f"extend={ops.extend} prorate={ops.prorate}"
        )
    for finding in outcome.findings:
        console.print(f"[yellow]finding[/yellow] {finding_text(finding)}", markup=True, highlight=False)


@model.command("show")
@click.argument("case_path", metavar="CASE")
@click.option("--step", "step", type=int, required=True, help="Show the state after this step (1-based).")
@click.option(
    "--behaviour",
    "behaviour_name",
    default=Behaviour.HEAD.value,
    show_default=True,
    type=click.Choice(_BEHAVIOURS, case_sensitive=False),
)
def show_case(case_path: str, step: int, behaviour_name: str) -> int:
    """Show the engine's artifacts after step N of an oracle case."""
    behaviour = _behaviour(behaviour_name)
    case = load_case(Path(case_path))  # a missing file, a folder, a FIFO: each named in one line
    if not 1 <= step <= len(case.steps):
        raise InputError(f"the case has steps 1..{len(case.steps)}, not {step}", file=case_path, field="--step")
    result = run_case(case, behaviour, until_step=step)
    outcome = result.steps[step - 1]
    snapshot = outcome.snapshot
    if snapshot is None:
        sub = case.subscription.build()
        snapshot = Engine(case.config, behaviour).snapshot(result.state, sub.id, customer_id=sub.customer_id)
    console = output_console(highlight=False)
    _render(console, result, step - 1, snapshot)
    return EXIT_OK


__all__ = ["check", "finding_text", "model", "show_case"]
