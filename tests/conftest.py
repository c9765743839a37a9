"""Shared fixtures of the test suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import pg
from aiposture import Posture, RelationKind, Settings
from aiposture.demo import Estate, annotate, build_estate
from aiposture.discovery import observe
from aiposture.store import SourceUpdate, Store, open_store

#: An asset name written to attack the notebook views: it must always show as text.
HOSTILE_NAME = "<img src=x onerror=alert(1)>"


# --- the demo estate, scanned and assessed once per session -----------------------


@dataclass(frozen=True)
class DemoStore:
    """A SQLite store of the demo estate: discovered, annotated, with a model named
    :data:`HOSTILE_NAME` that the support bot uses, and assessed."""

    db: Path
    settings: Settings
    estate: Estate

    def open_copy(self, folder: Path, *, actor: str = "analyst") -> Posture:
        """A posture on a private copy of the store (tests may change it freely)."""
        dest = folder / "posture.db"
        shutil.copyfile(self.db, dest)
        return Posture.open(dest, actor=actor, config=self.settings)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    base = tmp_path_factory.mktemp("demo-store")
    estate = build_estate(base / "estate")
    db = base / "posture.db"
    settings = Settings.from_mapping(
        {"discovery": {"sanctioned_services": list(estate.sanctioned)}}
    )
    with Posture.open(db, actor="setup", config=settings) as p:
        p.discover([estate.root], logs=estate.logs, progress=False)
    annotate(f"sqlite:///{db}", estate)
    with Posture.open(db, actor="setup", config=settings) as p:
        bot = p.asset("support-bot")
        evil = observe.model(HOSTILE_NAME, "openai")
        p.store.apply(
            [
                SourceUpdate(
                    source="test:hostile",
                    observations=[evil, observe.relate(bot, RelationKind.USES_MODEL, evil)],
                )
            ],
            scan_id="hostile",
            actor="test",
        )
        p.assess()
    return DemoStore(db=db, settings=settings, estate=estate)


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
