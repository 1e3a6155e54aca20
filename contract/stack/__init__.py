"""contract.stack."""
