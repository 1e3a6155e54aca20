"""Command modules of omcontract, one per area."""
