from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from joliba.schemas.common import Input, Model


class FileEntry(Model):
    path: str
    name: str
    type: Literal["file", "folder"]
    size: int | None
    modified: datetime | None


class FolderCreate(Input):
    path: str = Field(max_length=1024)


class FileMove(Input):
    source: str = Field(max_length=1024)
    destination: str = Field(max_length=1024)


class FileWritten(Model):
    path: str
    size: int
    replaced: bool
