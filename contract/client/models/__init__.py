"""Typed views of OpenMeter responses, parsed at the edge.

One model per thing the suite reads, whichever API version (v1 camelCase, v3 snake_case) or build
(HEAD, #4412 window) it came from. Where each version keeps a field is data in
:mod:`contract.wire` (the offline OpenMeter writes from the same tables); the models read through
it. Parsing rules:

* timestamps via :func:`contract.model.time.parse_time` — UTC, microseconds kept;
* money and quantities as :class:`~decimal.Decimal` (OpenMeter normalises ``"0.10"`` to ``"0.1"``;
  the Decimal compares equal either way);
* unknown extra fields are ignored; a ``null`` list (Go's nil slice) reads as empty;
* prices in one vocabulary (v1's, shared with :mod:`contract.model.domain`): v3 ``graduated`` /
  ``volume`` become ``type="tiered"`` with ``mode="graduated"`` / ``"volume"``;
* v1 invoice lines carry the subscription id and the item id swapped (upstream
  ``mapSubscriptionReferencesToAPI``); :meth:`InvoiceLine.from_v1` swaps them back.

A body that lacks a needed field raises :class:`~contract.wire.read.ShapeError` naming it.
The models live in three modules: :mod:`.catalog` (version, meters, features, customers,
profiles, credits, prices, plans), :mod:`.subscriptions` and :mod:`.billing` (invoices, charges).
"""

from contract.client.models import billing, catalog, subscriptions
from contract.client.models.billing import *  # noqa: F403
from contract.client.models.catalog import *  # noqa: F403
from contract.client.models.subscriptions import *  # noqa: F403

__all__ = [*billing.__all__, *catalog.__all__, *subscriptions.__all__]
