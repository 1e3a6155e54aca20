"""contract.stack: reach OpenMeter (attach by URL or boot compose), read its worker logs and sync state.

Public surface::

    from contract.stack import StackOptions, connect
    with connect(StackOptions.from_env()) as om:        # attach (OPENMETER_URL) or boot compose/
        om.base_url, om.version                          # the /version JSON, for the run record
        mark = om.logs.mark() if om.logs else None       # before a step
        ...
        records = om.logs.read_from(mark)                # the step's billing-worker log window
        for m in scan(records, subscription_ids={sub_id}):
            print(m.signature.id, m.attempts, m.conclusive)
        om.sync_states.get(sub_id)                       # SyncStateRow | None
        om.force_sync(customer_id)                       # ForceSyncResult | None

Docker, testcontainers and psycopg are imported lazily, only by the code that needs them.
"""

from contract.stack.connection import ForceSyncResult, OpenMeterHandle, boot, connect, probe_version
from contract.stack.options import DEFAULT_IMAGE_TAG, VARIANTS, StackOptions, Variant
from contract.stack.signatures import (
    Signature,
    SignatureMatch,
    default_catalogue,
    load_catalogue,
    scan,
    subscription_of,
    unique_id_of,
)
from contract.stack.syncstate import SyncStateReader, SyncStateRow, mask_dsn
from contract.worklog.records import LogRecord, parse_line, parse_lines, parse_text
from contract.worklog.source import LogMark, LogSource, LogSourceError

__all__ = [
    "DEFAULT_IMAGE_TAG",
    "VARIANTS",
    "ForceSyncResult",
    "LogMark",
    "LogRecord",
    "LogSource",
    "LogSourceError",
    "OpenMeterHandle",
    "Signature",
    "SignatureMatch",
    "StackOptions",
    "SyncStateReader",
    "SyncStateRow",
    "Variant",
    "boot",
    "connect",
    "default_catalogue",
    "load_catalogue",
    "mask_dsn",
    "parse_line",
    "parse_lines",
    "parse_text",
    "probe_version",
    "scan",
    "subscription_of",
    "unique_id_of",
]
