"""The offline OpenMeter's routers, one per resource, and :data:`OPENMETER` composing them all.

Each module holds one :class:`~contract.offline.routing.Router` (``ROUTER``) of plain handler
functions over the shared :class:`~contract.offline.state.OfflineState`; any of them can be
served alone (:func:`~contract.offline.routing.serve`), as respx mounts routes.
"""

from __future__ import annotations

from contract.offline.routes import charges, credits, customers, invoices, plans, profiles, subscriptions, system, usage
from contract.offline.routing import Router

__all__ = ["OPENMETER", "RESOURCES"]

#: Every resource router, in the order the composed router tries them.
RESOURCES: tuple[Router, ...] = (
    system.ROUTER,
    usage.ROUTER,
    customers.ROUTER,
    charges.ROUTER,
    credits.ROUTER,
    profiles.ROUTER,
    plans.ROUTER,
    subscriptions.ROUTER,
    invoices.ROUTER,
)

#: The whole public API the offline OpenMeter answers.
OPENMETER: Router = Router("openmeter").mount(*RESOURCES)
