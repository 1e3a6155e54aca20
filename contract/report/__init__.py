"""contract.report."""
