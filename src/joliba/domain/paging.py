"""Page requests shared by every list."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAGE_SIZE = 500
#: The last page number accepted: far past any real list (500 million rows at the largest page
#: size), and small enough that the row offset always fits the databases' 64-bit integers.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    page_size: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size
