"""The platform database's Alembic migrations, run when the store opens (`open_store`).

Apart from the floor's (supervisor/storage/migrate.py), in the same way: the scripts live inside the
package (`migrations/`), so an installed platform needs no alembic.ini, and upgrading an up-to-date
database is a no-op. The revisions are named `p0001`... so that neither program mistakes the other's
database for its own. A database made before the platform had migrations (by
`metadata.create_all`) is recognised and stamped at the first revision (migrations/env.py).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(_SCRIPTS)).get_current_head()
