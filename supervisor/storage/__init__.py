"""Storage: SQLAlchemy 2.x, Alembic migrations, the fill hash chain, and the one writer.

Layout: `engine` (URLs, SQLite transactions and pragmas), `schema` (tables), `migrate` (Alembic,
run at open under a lock), `database` (an opened database, read snapshots), `records` (what is
stored), `chain` (canonical content and hashes), `fills` (appending to the chain), `registry`
(archives, operators, inspections, cursor), `outbox` (queue for the platform), `repository` (store
any record; re-exports the functions of the last three), `writer` (group commit off the trio loop),
`verify` (walk the chain), `trace` (one cylinder's history), `times` (ISO 8601 UTC).
"""

from domain.records import (
    AlarmRecord,
    AuditRecord,
    CheckRecord,
    FillRecord,
    LearningRecord,
    Record,
    RefusalRecord,
)
from supervisor.storage.database import Database, open_database
from supervisor.storage.fills import FillLink
from supervisor.storage.verify import ChainReport, verify_chain
from supervisor.storage.writer import StorageWriter

__all__ = [
    "AlarmRecord",
    "AuditRecord",
    "ChainReport",
    "CheckRecord",
    "Database",
    "FillLink",
    "FillRecord",
    "LearningRecord",
    "Record",
    "RefusalRecord",
    "StorageWriter",
    "open_database",
    "verify_chain",
]
