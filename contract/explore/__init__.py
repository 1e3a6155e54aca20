"""contract.explore: generated lifecycles against one OpenMeter (``omcontract explore``).

- :mod:`~contract.explore.generate` — Hypothesis strategies drawing whole scenario documents;
- :mod:`~contract.explore.example` — one drawn document loaded, run and classified;
- :mod:`~contract.explore.classify` — which failures are "the same bug";
- :mod:`~contract.explore.campaign` — workers, rounds of search, bounded shrinking.
"""

from contract.explore.campaign import Campaign, CampaignOptions, CampaignResult, CampaignStatus, Found
from contract.explore.classify import FailureClass, classify
from contract.explore.generate import Surface, scenarios

__all__ = [
    "Campaign",
    "CampaignOptions",
    "CampaignResult",
    "CampaignStatus",
    "FailureClass",
    "Found",
    "Surface",
    "classify",
    "scenarios",
]
