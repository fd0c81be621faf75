"""Tests of storage (supervisor/storage/): schema and migrations, records, chains, the writer and sink,
faults, backup.
"""
