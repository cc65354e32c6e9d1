"""Built-in pipeline folders that ``joliba pipelines init NAME --template T`` copies.

``starter`` is the default; the others are ready-made pipelines (``TEMPLATES`` says what each
does). ``__NAME__``, ``__CODE__`` and ``__FUNCTION__`` in their files become the new
pipeline's name, code and function name.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
STARTER = HERE / "starter"

#: Template name → what it does, in one line.
TEMPLATES = {
    "starter": "A small working pipeline: typed parameters, tasks, a file output.",
    "dhis2-extract": "DHIS2 data values (data elements or data sets x org unit level x "
    "periods) -> a dataset version and an optional workspace table.",
    "dhis2-metadata": "DHIS2 org units with geometry and hierarchy, data elements, "
    "category option combos and data sets -> a dataset version.",
    "dhis2-push": "A dataset table -> a DHIS2, through a mapping; dry run first, "
    "conflicts as an output file.",
    "dhis2-health-map": "DHIS2 analytics per district and month (data elements or "
    "indicators) with the districts' shapes -> a GeoParquet dataset version and a workspace "
    "table, ready for the map view.",
}


def function_name(code: str) -> str:
    """A Python identifier for the pipeline function of pipeline ``code``."""
    name = re.sub(r"\W", "_", code.replace("-", "_"))
    return name if name.isidentifier() and not name[0].isdigit() else f"pipeline_{name}"


def write_template(folder: Path, template: str, *, name: str, code: str) -> None:
    """Copy template ``template`` into the new folder ``folder``, named ``name``."""
    if template not in TEMPLATES:
        raise ValueError(f"no template {template!r}: choose one of {', '.join(TEMPLATES)}")
    source_root = HERE / template
    for source in sorted(source_root.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        target = folder / source.relative_to(source_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text().replace("__NAME__", name).replace("__CODE__", code)
        target.write_text(text.replace("__FUNCTION__", function_name(code)))


def write_starter(folder: Path, *, name: str, code: str) -> None:
    """Copy the starter pipeline into the new folder ``folder``, named ``name``."""
    write_template(folder, "starter", name=name, code=code)
