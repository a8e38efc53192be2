"""Test-only builders shared by the test suite (not installed with the package)."""
