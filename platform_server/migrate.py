"""The platform database's Alembic migrations, run when the store opens (`open_store`).

Apart from the floor's (supervisor/storage/migrate.py), in the same way: the scripts live inside the
package (`migrations/`), so an installed platform needs no alembic.ini, and upgrading an up-to-date
database is a no-op. The revisions are named `p0001`... so that neither program mistakes the other's
database for its own. A database made before the platform had migrations (by
`metadata.create_all`) is recognised and stamped at the first revision (migrations/env.py).
"""

from __future__ import annotations

from pathlib import Path

from supervisor.storage.migrate import Migrations, current_revision

__all__ = ["PLATFORM", "current_revision", "head_revision", "upgrade"]

PLATFORM = Migrations(Path(__file__).with_name("migrations"))
upgrade, head_revision = PLATFORM.upgrade, PLATFORM.head_revision
