"""contract.client."""
