"""pytest plugin (entry point ``pytest11``): OpenMeter options, the ``live`` marker, and scenarios
collected as test items.

Options live in the ``openmeter`` group; precedence is command-line option > environment:

* ``--openmeter-url`` (``OPENMETER_URL``, also OpenMeter's ``OPENMETER_ADDRESS``): the OpenMeter
  to test. Without one, live items skip with the reason.
* ``--worker-logs`` (``OPENMETER_WORKER_LOGS``), ``--openmeter-postgres`` (``OPENMETER_POSTGRES``),
  ``--force-sync-command`` (``OPENMETER_FORCE_SYNC``): evidence and control in attach mode.
* ``--openmeter-offline BEHAVIOUR``: run the scenario items against the offline fake instead.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openmeter", "OpenMeter contract tests")
    group.addoption(
        "--openmeter-url",
        dest="openmeter_url",
        default=None,
        help="base URL of a running OpenMeter (default: $OPENMETER_URL or $OPENMETER_ADDRESS)",
    )
    group.addoption(
        "--worker-logs",
        dest="openmeter_worker_logs",
        default=None,
        help="billing-worker log: a file, a folder, or cmd:<command> (default: $OPENMETER_WORKER_LOGS)",
    )
    group.addoption(
        "--openmeter-postgres",
        dest="openmeter_postgres",
        default=None,
        help="Postgres DSN to read subscription_billing_sync_states (default: $OPENMETER_POSTGRES)",
    )
    group.addoption(
        "--force-sync-command",
        dest="openmeter_force_sync",
        default=None,
        help="command that forces a subscription sync, with {customer_id} (default: $OPENMETER_FORCE_SYNC)",
    )
    group.addoption(
        "--openmeter-offline",
        dest="openmeter_offline",
        default=None,
        metavar="BEHAVIOUR",
        help="run scenario items against the offline fake playing BEHAVIOUR (head or issue-4412)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live: needs a real OpenMeter (skips with the reason when none is reachable)"
    )


def openmeter_url(config: pytest.Config) -> str | None:
    """The OpenMeter URL the session targets: option, then OPENMETER_URL, then OPENMETER_ADDRESS."""
    value = config.getoption("openmeter_url", default=None)
    if value:
        return str(value)
    return os.environ.get("OPENMETER_URL") or os.environ.get("OPENMETER_ADDRESS") or None
