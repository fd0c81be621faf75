"""Tests of the device actors (actors/): Modbus scale and valve, the scanner, and their links fuzzed."""
