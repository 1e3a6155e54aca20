"""Tests for contract.oracle."""
