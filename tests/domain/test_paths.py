from __future__ import annotations

import pytest

from joliba.domain.errors import Invalid
from joliba.domain.paths import clean_path


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a.csv", "a.csv"),
        ("dir/sub/", "dir/sub"),
        ("données/région 1.xlsx", "données/région 1.xlsx"),
    ],
)
def test_accepted(raw: str, clean: str) -> None:
    assert clean_path(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "/abs",
        "~/x",
        "../x",
        "a/../b",
        "a/./b",
        "a//b",
        "a\\b",
        "a\x00b",
        "a\nb",
        ".joliba-folder",
        "x/" + "n" * 256,
    ],
)
def test_refused(raw: str) -> None:
    with pytest.raises(Invalid):
        clean_path(raw)


def test_root_only_when_allowed() -> None:
    assert clean_path("", allow_root=True) == ""
    with pytest.raises(Invalid):
        clean_path("/", allow_root=True)
