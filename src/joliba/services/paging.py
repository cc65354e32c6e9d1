"""One way to cut a query into pages, with the total that every list reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from joliba.domain.paging import PageRequest

T = TypeVar("T")


def paginate(
    session: Session, query: Select[T], page: PageRequest, *order_by: Any
) -> tuple[Sequence[T], int]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order_by).offset(page.offset).limit(page.limit))
    return rows.all(), total
