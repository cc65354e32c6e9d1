"""Demo content: an admin, a workspace, a sample file, a published dataset and a DHIS2
connection to the emulator the demo serves. Later features add their parts."""

from __future__ import annotations

import csv
import io
import random
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Connection, Dataset, User, Workspace
from joliba.domain.connections import ConnectionType
from joliba.domain.permissions import Action
from joliba.services import connections, datasets, users, workspaces
from joliba.services.actors import Actor
from joliba.services.crypto import SecretBox
from joliba.services.platform import Platform

ADMIN_EMAIL = "admin@example.org"
WORKSPACE_SLUG = "demo"
SAMPLE_PATH = "data/malaria_confirmed_cases_2025.csv"
DATASET_SLUG = "malaria-cases"
DHIS2_SLUG = "dhis2-demo"
#: The emulator's default user (see joliba.dhis2.emulator).
DHIS2_USERNAME = "admin"
DHIS2_PASSWORD = "district"  # noqa: S105 (the emulator's public demo password)
# Sierra Leone's districts, as in the DHIS2 demo database.
_DISTRICTS = (
    "Bo",
    "Bombali",
    "Bonthe",
    "Kailahun",
    "Kambia",
    "Kenema",
    "Koinadugu",
    "Kono",
    "Moyamba",
    "Port Loko",
    "Pujehun",
    "Tonkolili",
    "Western Area",
)


@dataclass(frozen=True)
class DemoSeed:
    email: str
    password: str
    workspace: str


def sample_csv(seed: int = 2025) -> bytes:
    """Monthly confirmed malaria cases per district: made up, but shaped like the real thing."""
    rng = random.Random(seed)  # noqa: S311 (sample data, not security)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["district", "period", "confirmed_cases", "tested"])
    for district in _DISTRICTS:
        base = rng.randint(800, 4000)
        for month in range(1, 13):
            season = 1.6 if 6 <= month <= 10 else 1.0
            cases = int(base * season * rng.uniform(0.8, 1.2))
            writer.writerow(
                [district, f"2025{month:02d}", cases, int(cases * rng.uniform(1.6, 2.4))]
            )
    return out.getvalue().encode()


def seed(session: Session, platform: Platform) -> DemoSeed:
    """Create or refresh the demo: the admin's password is new on every call."""
    password = secrets.token_urlsafe(12)
    admin = users.get_by_email(session, ADMIN_EMAIL)
    if admin is None:
        admin = users.create_user(
            session, email=ADMIN_EMAIL, password=password, name="Demo admin", superuser=True
        )
    else:
        users.set_password(session, admin, password)
    workspace = session.scalar(select(Workspace).where(Workspace.slug == WORKSPACE_SLUG))
    if workspace is None:
        workspace = workspaces.create(
            session,
            None,
            name="Demo: malaria programme",
            slug=WORKSPACE_SLUG,
            description="Sample workspace created by `joliba demo`.",
            time_zone="Africa/Freetown",
            admin=admin,
        )
    files = platform.store.workspace_files(workspace.id)
    if files.kind(SAMPLE_PATH) is None:
        upload = files.begin_upload(SAMPLE_PATH)
        upload.write(sample_csv())
        upload.commit()
    _seed_dataset(session, platform, admin, workspace)
    return DemoSeed(email=ADMIN_EMAIL, password=password, workspace=WORKSPACE_SLUG)


def _seed_dataset(session: Session, platform: Platform, admin: User, workspace: Workspace) -> None:
    """A published dataset of the sample table, profiled by the server once it starts."""
    if session.scalar(
        select(Dataset.id).where(Dataset.workspace_id == workspace.id, Dataset.slug == DATASET_SLUG)
    ):
        return
    access = workspaces.authorize(session, Actor(user=admin), workspace.slug, Action.DATASET_WRITE)
    dataset = datasets.create(
        session,
        access,
        name="Malaria confirmed cases",
        slug=DATASET_SLUG,
        description="Monthly confirmed malaria cases and tests per district, 2025 (sample data).",
        tags=["malaria", "hmis", "sample"],
    )
    version = datasets.create_version(
        session,
        access,
        dataset,
        name="2025-full-year",
        changelog="First release: January to December.",
    )
    content = sample_csv()
    upload = platform.store.blobs().begin()
    upload.write(content)
    sha256 = upload.commit()
    datasets.put_file(session, access, version, name="cases.csv", sha256=sha256, size=len(content))
    datasets.publish(session, access, dataset, version, present=True)


def seed_dhis2_connection(session: Session, box: SecretBox, url: str) -> Connection:
    """The demo workspace's ``dhis2-demo`` connection to the emulator at ``url``: created on
    the first call, pointed at ``url`` (which may change between demos) on the next ones."""
    admin = users.get_by_email(session, ADMIN_EMAIL)
    if admin is None:
        raise LookupError("seed the demo before its DHIS2 connection")
    access = workspaces.authorize(
        session, Actor(user=admin), WORKSPACE_SLUG, Action.CONNECTION_WRITE
    )
    fields = {"url": url, "username": DHIS2_USERNAME, "password": DHIS2_PASSWORD}
    existing = session.scalar(
        select(Connection).where(
            Connection.workspace_id == access.workspace.id, Connection.slug == DHIS2_SLUG
        )
    )
    if existing is None:
        return connections.create(
            session,
            access,
            box,
            type=ConnectionType.DHIS2.value,
            name="Demo DHIS2 (emulator)",
            slug=DHIS2_SLUG,
            description="The DHIS2 emulator that `joliba demo` serves beside Joliba.",
            fields=fields,
        )
    stored = connections.reveal(existing, box)
    if all(stored.get(key, "") == value for key, value in fields.items()):
        return existing  # unchanged: no audit entry
    return connections.update(session, access, box, DHIS2_SLUG, fields=fields)
