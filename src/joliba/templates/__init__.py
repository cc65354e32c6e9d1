"""Built-in pipeline folders: ``starter`` is what ``joliba pipelines init`` writes."""

from __future__ import annotations

from pathlib import Path

STARTER = Path(__file__).parent / "starter"
