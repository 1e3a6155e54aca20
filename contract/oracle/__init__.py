"""contract.oracle: oracle cases (shared/oracle/FORMAT.md) as typed inputs and expectations.

* :func:`load_case` / :func:`load_cases` — read case files (``file:line: field: reason`` errors);
* :func:`run_case` — run a case through the reference engine and compare every ``expect``;
* :func:`expectation_from_data` — parse an oracle-style ``expect`` block from plain data.
"""

from contract.oracle.case import (
    CancelStep,
    GenerateStep,
    InvoiceStep,
    OracleCase,
    Step,
    SubscriptionSpec,
    SyncStep,
    UpdateStep,
    case_paths,
    load_case,
    load_cases,
)
from contract.oracle.expect import expectation_from_data, parse_expect
from contract.oracle.runner import CaseResult, StepOutcome, run_case

__all__ = [
    "CancelStep",
    "CaseResult",
    "GenerateStep",
    "InvoiceStep",
    "OracleCase",
    "Step",
    "StepOutcome",
    "SubscriptionSpec",
    "SyncStep",
    "UpdateStep",
    "case_paths",
    "expectation_from_data",
    "load_case",
    "load_cases",
    "parse_expect",
    "run_case",
]
