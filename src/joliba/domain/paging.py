"""Page requests shared by every list."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAGE_SIZE = 500


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
