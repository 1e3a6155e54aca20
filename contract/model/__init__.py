"""contract.model."""
