"""Superset beside Joliba (``JOLIBA_SUPERSET_URL``): each workspace's database registered in
Superset with its read-only role, its tables kept as Superset datasets, people signed in to
Superset through Joliba, and a workspace's dashboards embedded in its pages.

A Superset database is named after its workspace's slug; the Superset role
``Joliba: <slug>`` (made at sign-in by ``joliba_superset.py``) grants ``database_access`` on
it, and only the members of that workspace get it. A dashboard belongs to a workspace when
every dataset it draws is in that workspace's database: only then does Joliba list it there
and hand out guest tokens for it, to the workspace's members.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from joliba.builds.superset import SERVICE_USER, Keys
from joliba.db.engine import Database
from joliba.db.tables import Membership, User, Workspace
from joliba.domain.errors import NotFound
from joliba.domain.permissions import Action
from joliba.services import audit, units
from joliba.services.actors import Actor
from joliba.services.superset_api import SupersetAPI
from joliba.services.workspace_databases import WorkspaceDatabases
from joliba.storage.tables import TableError
from joliba.storage.workspace_sql import Target, list_tables

log = logging.getLogger("joliba.superset")

#: How long a sign-in token is good for (it is used at once, by the browser's redirect).
SIGNIN_SECONDS = 60
#: How long the list of dashboards and their databases is reused before it is asked again.
DASHBOARDS_SECONDS = 30.0


@dataclass(frozen=True)
class Dashboard:
    id: int
    title: str
    url: str  # in Superset, absolute
    published: bool
    changed: str  # "2 hours ago", as Superset says it


@dataclass(frozen=True)
class Embedding:
    """What the browser needs to embed one dashboard."""

    dashboard: Dashboard
    uuid: str
    superset_url: str


@dataclass
class SyncReport:
    databases: list[str] = field(default_factory=list)  # registered or updated
    datasets_added: list[str] = field(default_factory=list)  # "slug.table"
    datasets_refreshed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def required(link: SupersetLink | None) -> SupersetLink:
    """The server's Superset; without one, its dashboards are not found (saying how to set
    one up). A Superset that is set up but does not answer is Unavailable."""
    if link is None:
        raise NotFound(
            "Superset is not set up on this server: see docs/bi.md (joliba superset install, "
            "joliba superset serve, JOLIBA_SUPERSET_URL)"
        )
    return link


def sqlalchemy_uri(target: Target) -> str:
    """How Superset (SQLAlchemy 1.4, psycopg2) opens a workspace database, read-only."""
    if target.is_sqlite:
        return f"sqlite:///file:{target.path}?mode=ro&uri=true"
    return "postgresql+psycopg2://" + target.url.split("://", 1)[1]


class SupersetLink:
    """One server's link to its Superset, built once by ``Platform``."""

    def __init__(
        self, db: Database, databases: WorkspaceDatabases, *, url: str, secret_key: str
    ) -> None:
        self.db = db
        self.databases = databases
        self.url = url.rstrip("/")
        self.keys = Keys.derive(secret_key)
        self.api = SupersetAPI(self.url, SERVICE_USER, self.keys.service_password)
        self._lock = threading.Lock()
        #: What this server last sent to Superset: database URIs and table columns.
        self._uris: dict[str, str] = {}
        self._columns: dict[tuple[int, str], tuple[tuple[str, str], ...]] = {}
        self._dashboards: tuple[float, list[tuple[Dashboard, frozenset[int]]]] | None = None

    def close(self) -> None:
        self.api.close()

    # -- keeping Superset in step -------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Register every open workspace's database and its tables; what fails for one
        workspace is reported and the others go on."""
        report = SyncReport()
        with self.db.transaction(write=False) as session:
            found = session.scalars(
                select(Workspace).where(Workspace.archived.is_(False)).order_by(Workspace.slug)
            ).all()
            workspaces = [(w.id, w.slug) for w in found]
        with self._lock:
            known = {
                str(row["database_name"]): int(row["id"])
                for row in self.api.every("/api/v1/database/", ["id", "database_name"])
            }
            datasets = self._all_datasets()  # once per pass, for every workspace
            for workspace_id, slug in workspaces:
                try:
                    self._sync_workspace(workspace_id, slug, known, datasets, report)
                except Exception as exc:  # one workspace's trouble stops no other's
                    log.warning("Superset sync of workspace %s failed: %s", slug, exc)
                    report.errors.append(f"{slug}: {exc}")
        return report

    def _sync_workspace(
        self,
        workspace_id: uuid.UUID,
        slug: str,
        known: dict[str, int],
        all_datasets: list[dict[str, Any]],
        report: SyncReport,
    ) -> None:
        target = self.databases.target(workspace_id, writable=False)
        if target.is_sqlite and not target.path.exists():
            return  # nothing written yet: registered once its first table is
        uri = sqlalchemy_uri(target)
        body = {
            "sqlalchemy_uri": uri,
            "expose_in_sqllab": True,
            "allow_dml": False,
            "allow_run_async": False,
        }
        database_id = known.get(slug)
        if database_id is None:
            answer = self.api.post("/api/v1/database/", {"database_name": slug, **body})
            database_id = int(answer["id"])
            known[slug] = database_id
            report.databases.append(slug)
        elif self._uris.get(slug) != uri:  # new to this server, or the password was rotated
            self.api.put(f"/api/v1/database/{database_id}", body)
            report.databases.append(slug)
        self._uris[slug] = uri
        try:
            tables = list_tables(target, counts=False)
        except TableError as exc:
            report.errors.append(f"{slug}: {exc}")
            return
        datasets = {
            str(row["table_name"]): int(row["id"])
            for row in all_datasets
            if _database_of(row) == database_id
            and not row.get("sql")  # virtual datasets (SQL) are people's, not tables'
        }
        schema = "main" if target.is_sqlite else "public"
        for table in tables:
            columns = tuple(table.columns)
            dataset_id = datasets.get(table.name)
            if dataset_id is None:
                answer = self.api.post(
                    "/api/v1/dataset/",
                    {"database": database_id, "schema": schema, "table_name": table.name},
                )
                self._columns[(database_id, table.name)] = columns
                report.datasets_added.append(f"{slug}.{table.name}")
                continue
            if self._columns.get((database_id, table.name)) != columns:
                self.api.put(f"/api/v1/dataset/{dataset_id}/refresh")
                self._columns[(database_id, table.name)] = columns
                report.datasets_refreshed.append(f"{slug}.{table.name}")

    # -- sign-in -------------------------------------------------------------------------------

    def signin_url(self, user: User, next_path: str = "/") -> str:
        """Where to send ``user``'s browser to be signed in to Superset: a token, signed for
        Superset, that names the databases of their open workspaces."""
        with self.db.transaction(write=False) as session:
            slugs = session.scalars(
                select(Workspace.slug)
                .join(Membership, Membership.workspace_id == Workspace.id)
                .where(Membership.user_id == user.id, Workspace.archived.is_(False))
                .order_by(Workspace.slug)
            ).all()
        first, _, last = (user.name or user.email.split("@", 1)[0]).partition(" ")
        claims = {
            "username": f"joliba-{user.id}",
            "email": user.email,
            "first_name": first,
            "last_name": last or "-",
            "admin": bool(user.is_superuser),
            "databases": list(slugs),
            "next": next_path if next_path.startswith("/") else "/",
            "exp": int(time.time()) + SIGNIN_SECONDS,
            "nonce": secrets.token_urlsafe(16),
        }
        token = sign(claims, self.keys.signin_key)
        return f"{self.url}/joliba/signin?{urlencode({'token': token})}"

    # -- dashboards ----------------------------------------------------------------------------

    def dashboards(self, actor: Actor, ws: str) -> list[Dashboard]:
        """The dashboards that draw only on ``ws``'s database, for its members."""
        with units.work(self.db, actor, ws, Action.DATABASE_READ) as (_session, access):
            slug = access.workspace.slug
        return self.dashboards_of(slug)

    def dashboards_of(self, slug: str) -> list[Dashboard]:
        """The dashboards that draw only on workspace ``slug``'s database (no permission
        check: callers have made theirs)."""
        database_id = self.database_id(slug)
        return [] if database_id is None else self._dashboards_in(database_id)

    def _dashboards_in(self, database_id: int) -> list[Dashboard]:
        return [
            dashboard
            for dashboard, used in self._all_dashboards()
            if used and used == frozenset({database_id})
        ]

    def database_id(self, slug: str) -> int | None:
        """The Superset id of workspace ``slug``'s database, None before it is registered."""
        for row in self.api.every("/api/v1/database/", ["id", "database_name"]):
            if row["database_name"] == slug:
                return int(row["id"])
        return None

    def dataset_id(self, database_id: int, table: str) -> int | None:
        """The Superset id of the dataset on ``table`` in that database, if there is one."""
        for row in self._all_datasets():
            if _database_of(row) == database_id and row["table_name"] == table:
                return int(row["id"])
        return None

    def _all_datasets(self) -> list[dict[str, Any]]:
        return self.api.every("/api/v1/dataset/", ["id", "table_name", "database.id", "sql"])

    def _database_of_datasets(self) -> dict[int, int]:
        return {int(row["id"]): _database_of(row) for row in self._all_datasets()}

    def _all_dashboards(self) -> list[tuple[Dashboard, frozenset[int]]]:
        """Every dashboard with the databases its charts read: three listings, however
        many dashboards there are (reused for DASHBOARDS_SECONDS)."""
        cached = self._dashboards
        if cached is not None and time.monotonic() - cached[0] < DASHBOARDS_SECONDS:
            return cached[1]
        database_of = self._database_of_datasets()
        used: dict[int, set[int]] = {}
        charts = ["id", "datasource_id", "datasource_type", "dashboards.id"]
        for chart in self.api.every("/api/v1/chart/", charts):
            table = chart.get("datasource_type") == "table"
            database = database_of.get(int(chart.get("datasource_id") or -1), -1) if table else -1
            for dashboard in chart.get("dashboards") or []:
                used.setdefault(int(dashboard["id"]), set()).add(database)
        found: list[tuple[Dashboard, frozenset[int]]] = []
        columns = ["id", "dashboard_title", "url", "published", "changed_on_delta_humanized"]
        for row in self.api.every("/api/v1/dashboard/", columns):
            dashboard = Dashboard(
                id=int(row["id"]),
                title=str(row["dashboard_title"]),
                url=self.url + str(row["url"]),
                published=bool(row["published"]),
                changed=str(row.get("changed_on_delta_humanized") or ""),
            )
            found.append((dashboard, frozenset(used.get(dashboard.id, ()))))
        self._dashboards = (time.monotonic(), found)
        return found

    def _reads_only(self, dashboard_id: int, database_id: int) -> bool:
        """Whether everything the dashboard reads, its filters' datasets included, is in
        that database: what a guest token for it opens, checked afresh before each one."""
        datasets = self.api.get(f"/api/v1/dashboard/{dashboard_id}/datasets").get("result", [])
        used = {int(d["database"]["id"]) for d in datasets if d.get("database")}
        metadata = self.api.get(f"/api/v1/dashboard/{dashboard_id}")["result"]
        filters = json.loads(metadata.get("json_metadata") or "{}").get(
            "native_filter_configuration", []
        )
        filtered = {
            int(target["datasetId"])
            for item in filters
            for target in item.get("targets", [])
            if target.get("datasetId") is not None
        }
        if filtered:
            database_of = self._database_of_datasets()
            used |= {database_of.get(dataset, -1) for dataset in filtered}
        return used == {database_id}

    def forget_dashboards(self) -> None:
        """Ask Superset again at the next listing (after a dashboard was made)."""
        self._dashboards = None

    def embedding(self, actor: Actor, ws: str, dashboard_id: int, origin: str) -> Embedding:
        """Turn on embedding of one of ``ws``'s dashboards (from Joliba's ``origin`` only)."""
        dashboard = self._of_workspace(actor, ws, dashboard_id)
        answer = self.api.post(
            f"/api/v1/dashboard/{dashboard.id}/embedded", {"allowed_domains": [origin]}
        )
        return Embedding(dashboard, str(answer["result"]["uuid"]), self.url)

    def guest_token(
        self, actor: Actor, ws: str, dashboard_id: int, origin: str
    ) -> tuple[str, Embedding]:
        """A guest token for one of ``ws``'s dashboards (Superset's lasts 5 minutes; the
        embedded page asks for a new one as it runs out), with its embedding, turned on if
        it was not. Recorded in the audit log."""
        embedding = self.embedding(actor, ws, dashboard_id, origin)
        dashboard = embedding.dashboard
        user = actor.user
        answer = self.api.post(
            "/api/v1/security/guest_token/",
            {
                "user": {
                    "username": f"joliba-{user.id}",
                    "first_name": user.name or user.email,
                    "last_name": "",
                },
                "resources": [{"type": "dashboard", "id": embedding.uuid}],
                "rls": [],
            },
        )
        with units.work(self.db, actor, ws, Action.DATABASE_READ, write=True) as (
            session,
            access,
        ):
            audit.record(
                session,
                "superset.dashboard_view",
                actor=actor,
                workspace=access.workspace,
                target=dashboard.title,
                details={"dashboard_id": dashboard.id},
                client_ip=actor.client_ip,
            )
        return str(answer["token"]), embedding

    def _of_workspace(self, actor: Actor, ws: str, dashboard_id: int) -> Dashboard:
        with units.work(self.db, actor, ws, Action.DATABASE_READ) as (_session, access):
            slug = access.workspace.slug
        database_id = self.database_id(slug)
        if database_id is not None:
            for dashboard in self._dashboards_in(database_id):
                if dashboard.id == dashboard_id and self._reads_only(dashboard.id, database_id):
                    return dashboard
        raise NotFound(f"dashboard {dashboard_id} is not one of this workspace's")


def _database_of(dataset: dict[str, Any]) -> int:
    """The database id of a row of Superset's dataset listing (-1 when it names none)."""
    return int((dataset.get("database") or {}).get("id", -1))


def sign(claims: dict[str, Any], key: str) -> str:
    """``base64(json).base64(hmac-sha256)``, as ``joliba_superset.verify`` reads it."""
    body = base64.urlsafe_b64encode(json.dumps(claims, sort_keys=True).encode())
    text = body.decode().rstrip("=")
    signature = hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()
    return f"{text}." + base64.urlsafe_b64encode(signature).decode().rstrip("=")
