"""Tests of contract.report (a package, so its module names cannot clash with other areas')."""
