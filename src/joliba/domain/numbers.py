"""The integers the metadata databases hold: anything larger is refused before it reaches them.

SQLite stores at most 64-bit integers and PostgreSQL's ``integer`` 32 bits; a larger value in a
query is an error inside the driver, so numbers that come from requests are checked here first.
"""

from __future__ import annotations

#: Largest value of an ``Integer`` column (version numbers, counts).
MAX_INT = 2**31 - 1
#: Largest value of a ``BigInteger`` column (log line ids, byte offsets).
MAX_BIGINT = 2**63 - 1


def whole_number(text: str, *, maximum: int = MAX_INT) -> int | None:
    """The number ``text`` spells in ASCII digits, or None (other text, or past ``maximum``)."""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
