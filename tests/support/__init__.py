"""Test helpers shared by the integration and browser suites."""
