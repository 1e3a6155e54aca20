"""contract.compare."""
