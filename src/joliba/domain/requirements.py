"""What a pipeline's requirements.txt may ask for: packages by name and version, nothing else.

The server builds each version's environment itself, outside the run sandbox. Installing a
wheel runs none of its code; building a package from source runs its ``setup.py`` or build
backend, with the server's rights. So a requirement must name a package from the configured
index (``pandas>=2.2``, ``polars[excel]==1.9; python_version >= "3.11"``), optionally pinned
by hash; paths, URLs (``git+…``, ``file:…``, ``https://…``) and options (``-e``, ``-r``,
``--index-url``, …) are refused with the line that holds them, and only wheels are installed.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement

from joliba.domain.errors import Invalid

#: A hash pin after a requirement (``--hash=sha256:…``): safe, and kept for the installer.
_HASH = re.compile(r"\s+--hash[=\s][a-z0-9]+:[0-9a-f]+", re.IGNORECASE)
FIELD = "requirements.txt"


def check_requirements(text: str) -> None:
    """Raise Invalid, naming the line, for anything but a package requirement."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        bare = _HASH.sub("", line).strip()
        where = f"{FIELD} line {number} ('{line[:80]}')"
        if bare.startswith("-"):
            raise Invalid(
                f"{where}: options are not allowed; list packages by name and version, "
                "like pandas>=2.2 (the server chooses the package index)",
                details={"field": FIELD, "line": number},
            )
        try:
            requirement = Requirement(bare)
        except InvalidRequirement:
            raise Invalid(
                f"{where}: not a package requirement (a name, optional [extras], a version "
                "like ==1.2 or >=1.2, optional ; markers)",
                details={"field": FIELD, "line": number},
            ) from None
        if requirement.url:
            raise Invalid(
                f"{where}: paths and URLs are not allowed, only packages from the package "
                "index by name and version (building a package from source would run its "
                "code on the server)",
                details={"field": FIELD, "line": number},
            )
