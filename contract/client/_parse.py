"""The client's name for the strict JSON readers, which live in :mod:`contract.wire.read`.

The wire layer owns them (the client and the offline OpenMeter read the same shapes); this module
keeps the client's short import ``from contract.client import _parse as p``.
"""

from contract.wire.read import *  # noqa: F403
from contract.wire.read import __all__  # noqa: F401
