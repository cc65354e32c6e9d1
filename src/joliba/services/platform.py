"""The long-lived parts every request needs, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from joliba.db.engine import Database
from joliba.services.connection_checks import ConnectionChecker
from joliba.services.crypto import SecretBox
from joliba.services.run_signals import RunSignals
from joliba.settings import Settings
from joliba.storage.objects import ObjectStore


@dataclass
class Platform:
    settings: Settings
    db: Database
    store: ObjectStore
    box: SecretBox
    checker: ConnectionChecker = field(default_factory=ConnectionChecker)
    signals: RunSignals = field(default_factory=RunSignals)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, checker: ConnectionChecker | None = None
    ) -> Platform:
        """Open the database and the store; ``prepare_home`` must have run."""
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            store=ObjectStore(settings.resolved_storage_url, settings.storage_options),
            box=SecretBox(settings.secret_key_value()),
            checker=checker or ConnectionChecker(),
        )

    def close(self) -> None:
        self.db.dispose()
