"""Identifiers and the fields every DHIS2 object has, as the emulator's country is built
from them: uids derived from the seed, the default category model's fixed ids, references."""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LETTERS = ALPHABET[:52]

# The default category model has the same identifiers in every DHIS2 database.
DEFAULT_COMBO = "bjDvmb4bfuf"
DEFAULT_CATEGORY = "GLevLNI9wkl"
DEFAULT_OPTION = "xYerKDKCefk"
DEFAULT_COC = "HllvX50cXC0"

CREATED = "2019-03-12T09:14:08.512"
LAST_UPDATED = "2024-02-05T16:20:41.133"


def uid(seed: int, *parts: object) -> str:
    """A DHIS2 identifier (letter then 10 letters or digits) derived from the seed and parts."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=16).digest()
    number = int.from_bytes(digest, "big")
    chars = [LETTERS[number % 52]]
    number //= 52
    for _ in range(10):
        chars.append(ALPHABET[number % 62])
        number //= 62
    return "".join(chars)


def ref(identifier: str) -> Obj:
    return {"id": identifier}


def base(identifier: str, name: str, code: str | None = None, short: str | None = None) -> Obj:
    obj: Obj = {
        "id": identifier,
        "name": name,
        "displayName": name,
        "shortName": (short or name)[:50],
        "displayShortName": (short or name)[:50],
        "created": CREATED,
        "lastUpdated": LAST_UPDATED,
        "translations": [],
        "attributeValues": [],
    }
    if code:
        obj["code"] = code
    return obj
