"""Tests of the simulators (simulator/): devices, physics, scenarios end to end, the fault matrix,
crash safety, soak, benchmarks run tiny.
"""
