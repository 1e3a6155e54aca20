"""Tests for contract.model."""
