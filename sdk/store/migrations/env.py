"""Alembic environment of the aiposture store.

The store runs migrations itself when it opens (see
:func:`aiposture.store.sql.migrate`): it passes an open connection, already
inside its serialised write transaction, as ``config.attributes["connection"]``,
so two processes opening one new database cannot both create the schema.
Run by hand (``alembic`` with a config whose ``sqlalchemy.url`` is set), this
module opens its own connection instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from aiposture.store.schema import METADATA


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on one to ``sqlalchemy.url``."""
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or pass a connection in config.attributes")
    engine = create_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            _run(connection)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """Emit the migrations as SQL for the configured URL's dialect."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=METADATA,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
