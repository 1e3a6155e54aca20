"""contract.scenario."""
