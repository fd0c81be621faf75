"""Tests of the command line (fillfloor/): records, registry, users, demo, serve."""
