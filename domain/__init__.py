"""Pure domain rules shared by the floor, the platform and the simulator: no I/O here.

Layout: `reasons` (codes and texts), `models` (cylinder model table), `archive` (archive and
operator values), `settings` (every number of docs/domain.md as a setting), `labels` (label parsing),
`eligibility` (archive-based refusals on a date), `filling` (targets, flags, preact),
`operators` (certificate validity), `dates` (calendar arithmetic), `rows` (archive and operator rows
from CSV/TOML files).
"""
