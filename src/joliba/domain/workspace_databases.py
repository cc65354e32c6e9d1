"""Names of a workspace's PostgreSQL database and its two roles.

A workspace ``malaria-niger`` gets the database ``ws_malaria_niger``, owned by the role
``ws_malaria_niger`` (pipelines write with it) and read by ``ws_malaria_niger_ro`` (BI
tools, the SQL editor of viewers). Slugs are lowercase letters, digits and dashes, so the
names need no quoting; a name already taken on the server by something Joliba did not make
gets a short random suffix instead of being shared.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

#: PostgreSQL truncates identifiers at 63 bytes; the reader role adds 3 and a suffix 5.
_STEM = 52
_SAFE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class DatabaseNames:
    database: str
    owner: str
    reader: str


def names_for(slug: str, *, suffix: str = "") -> DatabaseNames:
    stem = "ws_" + slug.replace("-", "_")[:_STEM] + (f"_{suffix}" if suffix else "")
    names = DatabaseNames(database=stem, owner=stem, reader=f"{stem}_ro")
    for name in (names.database, names.reader):
        if not _SAFE.match(name) or len(name) > 63:
            raise ValueError(f"not a safe PostgreSQL name: {name!r}")
    return names


def random_suffix() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(4))


def new_password() -> str:
    """A role password: 32 URL-safe characters (about 190 bits), no quoting needed in URLs."""
    return secrets.token_urlsafe(24)
