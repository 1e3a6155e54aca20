"""Tests for contract.compare."""
