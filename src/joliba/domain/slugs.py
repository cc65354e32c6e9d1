"""Slugs: lowercase names safe in URLs, paths and database names."""

from __future__ import annotations

import re
import unicodedata

from joliba.domain.errors import Invalid

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:64].strip("-")


def check_slug(value: str, *, field: str = "slug") -> str:
    if not _SLUG.match(value):
        raise Invalid(
            f"{field}: lowercase letters, digits and dashes, 1 to 64 characters, "
            "not starting or ending with a dash",
            details={"field": field},
        )
    return value


def check_name(name: str, *, field: str = "name") -> str:
    """A display name: trimmed, 1 to 200 characters."""
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid(f"{field}: 1 to 200 characters", details={"field": field})
    return name
