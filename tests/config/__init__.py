"""Tests of the floor's config file: loading, its documentation, and fuzzed TOML."""
