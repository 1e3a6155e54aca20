"""contract.oracle."""
