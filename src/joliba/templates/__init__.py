"""Built-in pipeline folders: ``starter`` is what ``joliba pipelines init`` writes."""

from __future__ import annotations

import re
from pathlib import Path

STARTER = Path(__file__).parent / "starter"


def function_name(code: str) -> str:
    """A Python identifier for the pipeline function of pipeline ``code``."""
    name = re.sub(r"\W", "_", code.replace("-", "_"))
    return name if name.isidentifier() and not name[0].isdigit() else f"pipeline_{name}"


def write_starter(folder: Path, *, name: str, code: str) -> None:
    """Copy the starter pipeline into the new folder ``folder``, named ``name``."""
    for source in sorted(STARTER.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        target = folder / source.relative_to(STARTER)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text().replace("__NAME__", name).replace("__CODE__", code)
        target.write_text(text.replace("__FUNCTION__", function_name(code)))
