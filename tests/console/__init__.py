"""Tests of the console server and protocol (supervisor/console/): messages, catalogue, snapshot,
fuzzed input.
"""
