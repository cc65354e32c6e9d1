"""The long-lived parts every request needs, built once from the settings."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cached_property

from joliba.db.engine import Database
from joliba.services import commit_events, crypto
from joliba.services.connection_checks import ConnectionChecker
from joliba.services.crypto import SecretBox
from joliba.services.dhis2_lookups import DHIS2Lookups
from joliba.services.outbound import OutboundPool
from joliba.services.run_signals import RunSignals
from joliba.services.superset import SupersetLink
from joliba.services.workspace_databases import WorkspaceDatabases
from joliba.settings import Settings
from joliba.storage.objects import ObjectStore
from joliba.storage.tables import Limits, TableCache


@dataclass
class Platform:
    settings: Settings
    db: Database
    store: ObjectStore
    box: SecretBox
    checker: ConnectionChecker = field(default_factory=ConnectionChecker)
    #: The run form's DHIS2 pickers search through it (answers cached briefly).
    dhis2_lookups: DHIS2Lookups = field(default_factory=DHIS2Lookups)
    #: Connection tests and DHIS2 searches run here, a few at a time, in threads of their
    #: own: never in the event loop or the threads that serve pages.
    outbound: OutboundPool = field(default_factory=OutboundPool)
    signals: RunSignals = field(default_factory=RunSignals)
    #: Set when a table file is stored, so the profiler starts without polling.
    profiles_waiting: threading.Event = field(default_factory=threading.Event)
    #: Set when a dataset version is published, so followed tables are loaded again at once.
    loads_waiting: threading.Event = field(default_factory=threading.Event)
    #: Set when a run succeeded or a version was published: Superset is told of new tables.
    superset_waiting: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        # What services announce after a commit reaches this server's runner and profiler.
        self.db.on(commit_events.RUN_QUEUED, self.signals.queued)
        self.db.on(commit_events.SCHEDULES_CHANGED, self.signals.queued)
        self.db.on(commit_events.RUN_CANCEL_REQUESTED, self.signals.cancel_requested)
        self.db.on(commit_events.TABLE_STORED, self.profiles_waiting.set)
        self.db.on(commit_events.DATASET_PUBLISHED, self.loads_waiting.set)
        self.db.on(commit_events.DATASET_PUBLISHED, self.superset_waiting.set)
        self.db.on(commit_events.RUN_SUCCEEDED, self.superset_waiting.set)
        self.db.on(commit_events.WORKSPACE_DATABASE_CHANGED, self.databases.ensure_quietly)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, checker: ConnectionChecker | None = None
    ) -> Platform:
        """Open the database and the store; ``prepare_home`` must have run."""
        crypto.configure_passwords(
            memory_kib=settings.password_memory_kib, time_cost=settings.password_time_cost
        )
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            store=ObjectStore(settings.resolved_storage_url, settings.storage_options),
            box=SecretBox(settings.secret_key_value()),
            checker=checker or ConnectionChecker(allow_private=settings.connection_allow_private),
            dhis2_lookups=DHIS2Lookups(allow_private=settings.connection_allow_private),
        )

    @cached_property
    def databases(self) -> WorkspaceDatabases:
        """The workspaces' own databases (SQLite files, or PostgreSQL databases)."""
        settings = self.settings
        return WorkspaceDatabases(
            self.db, self.box, settings.workspace_database_url, settings.workspace_databases_dir
        )

    @cached_property
    def superset(self) -> SupersetLink | None:
        """The Superset beside this server (JOLIBA_SUPERSET_URL), or None."""
        if not self.settings.superset_url:
            return None
        return SupersetLink(
            self.db,
            self.databases,
            url=self.settings.superset_url,
            secret_key=self.settings.secret_key_value(),
        )

    @cached_property
    def tables(self) -> TableCache:
        """Dataset tables as local Parquet, read by DuckDB within the memory setting."""
        limits = Limits(
            memory_mb=self.settings.table_memory_mb, threads=min(4, os.cpu_count() or 1)
        )
        return TableCache(self.store.blobs(), self.settings.runtime_dir / "tables", limits)

    def close(self) -> None:
        link = self.__dict__.get("superset")  # only if it was ever made
        if link is not None:
            link.close()
        self.outbound.close()
        self.db.dispose()
