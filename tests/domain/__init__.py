"""Tests of the pure values and rules (domain/): checks, eligibility, filling, labels, rows, settings,
reasons, roles, events, the fill record's definition.
"""
