"""openmeter-contract: contract tests for OpenMeter's subscription sync.

``contract.model`` is the pure reference sync engine; ``contract.client`` and ``contract.stack``
talk to OpenMeter; ``contract.scenario`` drives scenarios; ``contract.compare`` and
``contract.report`` judge and show the result.
"""

__version__ = "0.1.0"
