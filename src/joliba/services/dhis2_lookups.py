"""Search a workspace's DHIS2 connection for the run form's pickers (data elements, org
units, …) with the :mod:`joliba.dhis2` client, keeping answers briefly per connection.

:func:`prepare` reads the connection inside a session; :meth:`DHIS2Lookups.search` then
talks to DHIS2 with no transaction open. Errors never carry the connection's secrets.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from joliba.dhis2.client import DHIS2
from joliba.dhis2.http import DHIS2Error
from joliba.domain.connections import MASK, ConnectionType
from joliba.domain.errors import BadGateway, Invalid
from joliba.domain.parameters import DHIS2_COLLECTIONS
from joliba.services import connections
from joliba.services.crypto import SecretBox
from joliba.services.workspaces import Access

TTL_SECONDS = 60.0
MAX_ENTRIES = 512
MAX_LIMIT = 100
TIMEOUT_SECONDS = 15.0
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Source:
    """A collection's DHIS2 endpoint, the fields read, and the order shown."""

    endpoint: str
    fields: str
    order: str = "name:asc"


SOURCES: dict[str, Source] = {
    "data_elements": Source("dataElements", "id,name"),
    "datasets": Source("dataSets", "id,name"),
    "data_element_groups": Source("dataElementGroups", "id,name"),
    "org_units": Source("organisationUnits", "id,name,level,path", "level:asc,name:asc"),
    "org_unit_levels": Source("organisationUnitLevels", "id,name,level", "level:asc"),
    "indicators": Source("indicators", "id,name"),
}
assert tuple(SOURCES) == DHIS2_COLLECTIONS  # the domain and this table agree


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    level: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class LookupRequest:
    """What a search needs, read before the (slow) remote call."""

    slug: str
    collection: str
    #: Changes when the connection is edited, so an edit is never served stale answers.
    version: tuple[str, str]
    values: dict[str, str]

    def __repr__(self) -> str:
        return f"LookupRequest(slug={self.slug!r}, collection={self.collection!r})"


def check_collection(collection: str) -> str:
    if collection not in SOURCES:
        raise Invalid(
            f"collection: unknown DHIS2 collection '{collection}' "
            f"(known: {', '.join(DHIS2_COLLECTIONS)})",
            details={"field": "collection"},
        )
    return collection


def prepare(
    session: Session, access: Access, box: SecretBox, slug: str, collection: str
) -> LookupRequest:
    check_collection(collection)
    connection = connections.get(session, access, slug)
    if connection.type != ConnectionType.DHIS2.value:
        raise Invalid(
            f"connection '{slug}' is a {connection.type} connection, not dhis2",
            details={"field": "slug"},
        )
    return LookupRequest(
        slug=slug,
        collection=collection,
        version=(str(connection.id), connection.updated_at.isoformat()),
        values=connections.reveal(connection, box),
    )


class DHIS2Lookups:
    """Runs the searches; each answer is kept ``ttl`` seconds (a picker asks again and
    again while someone types)."""

    def __init__(
        self,
        *,
        ttl: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.transport = transport
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, list[Item]]] = OrderedDict()
        self._lock = threading.Lock()

    def search(
        self, request: LookupRequest, *, q: str = "", limit: int = 20, ids: Sequence[str] = ()
    ) -> list[Item]:
        """Up to ``limit`` items whose name (or id, or code) matches ``q``; with ``ids``,
        those items instead (the picks to show again)."""
        q = q.strip()
        limit = max(1, min(int(limit), MAX_LIMIT))
        # DHIS2 ids are letters and digits: anything else could not be one, and must not
        # reach the filter's list syntax.
        wanted = tuple(sorted({i.strip() for i in ids if _ID.fullmatch(i.strip())}))
        key = (request.version, request.collection, q.lower(), limit, wanted)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        if ids and not wanted:
            return []
        items = self._fetch(request, q, limit, wanted)
        with self._lock:
            self._cache[key] = (now + self.ttl, items)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return items

    def _fetch(
        self, request: LookupRequest, q: str, limit: int, ids: tuple[str, ...]
    ) -> list[Item]:
        values = request.values
        source = SOURCES[request.collection]
        params: dict[str, Any] = {"order": source.order}
        if ids:
            filters = [f"id:in:[{','.join(ids)}]"]
        elif q:
            # DHIS2's "identifiable" matching by hand: words of the name, or the id or code.
            filters = [f"name:token:{q}", f"id:eq:{q}", f"code:eq:{q}"]
            params["rootJunction"] = "OR"
        else:
            filters = []
        try:
            with DHIS2(
                values.get("url", ""),
                username=values.get("username", ""),
                password=values.get("password", ""),
                token=values.get("token", ""),
                timeout=TIMEOUT_SECONDS,
                retries=2,
                transport=self.transport,
            ) as client:
                page = next(
                    client.pages(
                        source.endpoint,
                        fields=source.fields,
                        filters=filters,
                        params=params,
                        page_size=max(limit, len(ids)),
                        cache=False,
                    ),
                    [],
                )
        except ValueError as exc:  # no credentials in the connection
            raise Invalid(f"connection '{request.slug}': {exc}") from None
        except DHIS2Error as exc:
            raise BadGateway(
                _masked(_explain(request.slug, exc), values),
                details={"connection": request.slug, "status": exc.status},
            ) from None
        return [_item(raw) for raw in page if isinstance(raw, dict) and raw.get("id")]


def _explain(slug: str, exc: DHIS2Error) -> str:
    where = f"DHIS2 connection '{slug}'"
    if exc.status == 401:
        return f"{where}: DHIS2 refused the credentials (401 {exc.message})"
    if exc.status:
        return f"{where}: DHIS2 answered {exc.status}: {exc.message}"
    return f"{where}: {exc.message}"


def _masked(message: str, values: dict[str, str]) -> str:
    for name in ("password", "token"):
        secret = values.get(name, "")
        if secret:
            message = message.replace(secret, MASK)
    return message


def _item(raw: dict[str, Any]) -> Item:
    level = raw.get("level")
    path = raw.get("path")
    return Item(
        id=str(raw["id"]),
        name=str(raw.get("name") or raw.get("displayName") or raw["id"]),
        level=level if isinstance(level, int) else None,
        path=path if isinstance(path, str) else None,
    )
