"""Search a workspace's DHIS2 connection for the run form's pickers (data elements, org
units, …) with the :mod:`joliba.dhis2` client, keeping answers briefly per connection.

:func:`prepare` reads the connection inside a session; :meth:`DHIS2Lookups.find` then
talks to DHIS2 with no transaction open, in the platform's outbound pool (a few at a time,
one deadline each, only to checked addresses: :mod:`joliba.services.outbound`). Only the
fields a picker shows (id, name, level, path) are taken from DHIS2's answer, each checked;
errors say what failed in our words, never DHIS2's, and never carry the secrets.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from joliba.dhis2.client import DHIS2
from joliba.dhis2.http import DHIS2Error
from joliba.domain.connections import ConnectionType
from joliba.domain.errors import BadGateway, Invalid
from joliba.domain.masking import mask_secrets
from joliba.domain.parameters import DHIS2_COLLECTIONS
from joliba.services import connections
from joliba.services.connection_checks import dhis2_reason
from joliba.services.crypto import SecretBox
from joliba.services.outbound import (
    TIMEOUT_SECONDS,
    Deadline,
    OutboundError,
    OutboundPool,
    PinnedTransport,
    Refused,
)
from joliba.services.workspaces import Access

TTL_SECONDS = 60.0
MAX_ENTRIES = 512
MAX_LIMIT = 100
MAX_NAME = 230  # DHIS2's own limit for names
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PATH = re.compile(r"(/[A-Za-z0-9_-]{1,64}){1,20}")


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
        allow_private: bool = False,
        timeout: float = TIMEOUT_SECONDS,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.allow_private = allow_private
        self.timeout = timeout
        self.verify = verify
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, list[Item]]] = OrderedDict()
        self._lock = threading.Lock()

    async def find(
        self,
        pool: OutboundPool,
        request: LookupRequest,
        *,
        q: str = "",
        limit: int = 20,
        ids: Sequence[str] = (),
    ) -> list[Item]:
        """:meth:`search` for the HTTP handlers: a kept answer at once, else the search in
        ``pool`` (never in the threads or the event loop that serve pages)."""
        hit = self.cached(request, q=q, limit=limit, ids=ids)
        if hit is not None:
            return hit
        return await pool.run(lambda: self.search(request, q=q, limit=limit, ids=ids))

    def cached(
        self, request: LookupRequest, *, q: str = "", limit: int = 20, ids: Sequence[str] = ()
    ) -> list[Item] | None:
        """The answer kept for this search, if any (no remote call)."""
        key, wanted = _key(request, q, limit, ids)
        if ids and not wanted:
            return []
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
        return None

    def search(
        self, request: LookupRequest, *, q: str = "", limit: int = 20, ids: Sequence[str] = ()
    ) -> list[Item]:
        """Up to ``limit`` items whose name (or id, or code) matches ``q``; with ``ids``,
        those items instead (the picks to show again). Blocks: call it from a worker."""
        hit = self.cached(request, q=q, limit=limit, ids=ids)
        if hit is not None:
            return hit
        key, wanted = _key(request, q, limit, ids)
        now = time.monotonic()
        items = self._fetch(request, q.strip(), max(1, min(int(limit), MAX_LIMIT)), wanted)
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
        deadline = Deadline(self.timeout)
        transport = PinnedTransport(deadline, allow_private=self.allow_private, verify=self.verify)
        try:
            with DHIS2(
                values.get("url", ""),
                username=values.get("username", ""),
                password=values.get("password", ""),
                token=values.get("token", ""),
                timeout=deadline.seconds,
                retries=1,  # one attempt within the deadline: someone is typing
                transport=transport,
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
            transport.close()
            raise Invalid(f"connection '{request.slug}': {exc}") from None
        except Refused as exc:
            raise Invalid(
                _masked(f"DHIS2 connection '{request.slug}': {exc.message}", values),
                details={"connection": request.slug, "field": "fields.url"},
            ) from None
        except OutboundError as exc:
            raise BadGateway(
                _masked(f"DHIS2 connection '{request.slug}': {exc.message}", values),
                details={"connection": request.slug, "status": 0},
            ) from None
        except DHIS2Error as exc:
            raise BadGateway(
                _masked(_explain(request.slug, source, exc, transport.statuses), values),
                details={"connection": request.slug, "status": exc.status},
            ) from None
        items = [_item(raw) for raw in page if isinstance(raw, dict)]
        return [item for item in items if item is not None]


def _key(
    request: LookupRequest, q: str, limit: int, ids: Sequence[str]
) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    limit = max(1, min(int(limit), MAX_LIMIT))
    # DHIS2 ids are letters and digits: anything else could not be one, and must not
    # reach the filter's list syntax.
    wanted = tuple(sorted({i.strip() for i in ids if _ID.fullmatch(i.strip())}))
    return (request.version, request.collection, q.strip().lower(), limit, wanted), wanted


def _explain(slug: str, source: Source, exc: DHIS2Error, statuses: list[int]) -> str:
    where = f"DHIS2 connection '{slug}'"
    if exc.status == 0 and not (statuses and 300 <= statuses[-1] < 400):
        return f"{where}: not a DHIS2 server (no {source.endpoint} list in its answer)"
    return f"{where}: {dhis2_reason(exc.status, statuses)}"


def _masked(message: str, values: dict[str, str]) -> str:
    return mask_secrets(message, (values.get("password", ""), values.get("token", "")))


def _item(raw: dict[str, Any]) -> Item | None:
    """The fields a picker shows, each checked; None for what cannot be a DHIS2 item."""
    uid = raw.get("id")
    if not isinstance(uid, str) or not _ID.fullmatch(uid):
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        name = raw.get("displayName")
    shown = " ".join(name.split())[:MAX_NAME] if isinstance(name, str) else ""
    level = raw.get("level")
    path = raw.get("path")
    return Item(
        id=uid,
        name=shown if shown and shown.isprintable() else uid,
        level=level if isinstance(level, int) and not isinstance(level, bool) else None,
        path=path if isinstance(path, str) and _PATH.fullmatch(path) else None,
    )
