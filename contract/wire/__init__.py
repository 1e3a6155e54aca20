"""One description of OpenMeter's v1 and v3 JSON shapes, used by the client and the offline OpenMeter.

A resource's shape is data (:class:`~contract.wire.shape.Shape`): each neutral field with its v1
and v3 key and its reader; generic readers and writers are driven by it. The client reads
responses and writes requests through it; the offline OpenMeter reads requests and writes
responses through it. This package imports only :mod:`contract.model`.

* :mod:`.read` — strict readers naming the field path in every :class:`~.read.ShapeError`;
* :mod:`.shape` — :class:`~.shape.Field`, :class:`~.shape.Shape`, camelCase, JSON values;
* :mod:`.prices` — prices and tiers in both versions;
* :mod:`.catalog`, :mod:`.subscriptions`, :mod:`.billing` — each resource's shape.
"""

from contract.wire.read import ShapeError, format_numeric
from contract.wire.shape import Api, Field, Shape, camel, camel_keys

__all__ = ["Api", "Field", "Shape", "ShapeError", "camel", "camel_keys", "format_numeric"]
