"""The newest row of each group in one query: the latest version of many pipelines or
datasets at once, so that lists do not ask once per row."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


def newest_of_each(
    session: Session,
    entity: type[T],
    group: InstrumentedAttribute[uuid.UUID],
    number: InstrumentedAttribute[int],
    ids: Collection[uuid.UUID],
    *where: ColumnElement[bool],
) -> dict[uuid.UUID, T]:
    """For each id in ``ids``: the ``entity`` row of that ``group`` with the highest
    ``number`` among those matching ``where``."""
    if not ids:
        return {}
    highest = (
        select(group.label("key"), func.max(number).label("number"))
        .where(group.in_(ids), *where)
        .group_by(group)
        .subquery()
    )
    rows: Any = session.scalars(
        select(entity).join(highest, (group == highest.c.key) & (number == highest.c.number))
    )
    return {getattr(row, group.key): row for row in rows}
