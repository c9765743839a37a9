"""Shared fixtures of the test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pg
from aiposture.store import Store, open_store

# --- the store: run its tests against a SQLite file and a real PostgreSQL ------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    """A PostgreSQL server for the session; the test is skipped (with the reason) if none."""
    try:
        server = pg.server()
    except pg.PgUnavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of an empty store: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'posture.db'}"
        return
    server: pg.PgServer = request.getfixturevalue("pg_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store at ``store_url``, closed after the test."""
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()
