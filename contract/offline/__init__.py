"""contract.offline: an offline OpenMeter — its public HTTP API served by a small router of our
own (routes as data, one router per resource, composed as respx composes routes) whose answers
come from the reference engine (architecture.md §3, the respx anchor).

Typical use::

    from contract.client import OpenMeterClient
    from contract.offline import OfflineOpenMeter
    from contract.clock import VirtualClock

    fake = OfflineOpenMeter(Behaviour.ISSUE_4412, clock=VirtualClock(start))
    with OpenMeterClient(fake.base_url, transport=fake.transport) as om:
        ...                                   # set up, subscribe, cancel
    fake.logs.read()                          # the fake billing worker's JSON log lines
    fake.force_sync(customer_id)              # `openmeter-jobs billing subscriptionsync all --c`

It is not evidence about OpenMeter; it lets the suite run end to end without a server.
"""

from contract.offline.server import BASE_URL, OfflineOpenMeter, OfflineSyncState, SyncStates

__all__ = ["BASE_URL", "OfflineOpenMeter", "OfflineSyncState", "SyncStates"]
