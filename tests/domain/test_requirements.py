"""requirements.txt lines: packages by name and version pass; paths, URLs and options do not."""

from __future__ import annotations

import pytest

from joliba.domain.errors import Invalid
from joliba.domain.requirements import check_requirements

ALLOWED = [
    "pandas",
    "pandas>=2.2,<3",
    "polars[excel]==1.9.0",
    'numpy>=1.26; python_version >= "3.11"',
    "requests==2.32.3 --hash=sha256:" + "0" * 64,
    "# a comment\n\nhttpx>=0.27  # trailing words are the normaliser's business",
]

REFUSED = {
    "-e /srv/evil": "options are not allowed",
    "-r /etc/joliba/other.txt": "options are not allowed",
    "--index-url https://evil.example/simple": "options are not allowed",
    "--extra-index-url=https://evil.example/simple": "options are not allowed",
    "-f /tmp/wheels": "options are not allowed",
    "evil @ file:///srv/joliba/runtime/code/abc/evil": "paths and URLs are not allowed",
    "evil @ https://evil.example/evil-1.0.tar.gz": "paths and URLs are not allowed",
    "git+https://evil.example/evil.git": "not a package requirement",
    "./evil": "not a package requirement",
    "/srv/evil": "not a package requirement",
    "https://evil.example/evil-1.0.tar.gz": "not a package requirement",
}


@pytest.mark.parametrize("text", ALLOWED)
def test_packages_by_name_and_version_pass(text: str) -> None:
    check_requirements(text.replace("  # trailing words are the normaliser's business", ""))


@pytest.mark.parametrize(("line", "reason"), REFUSED.items())
def test_paths_urls_and_options_are_refused_with_their_line(line: str, reason: str) -> None:
    with pytest.raises(Invalid) as raised:
        check_requirements(f"pandas>=2.2\n{line}\n")
    assert raised.value.message.startswith("requirements.txt line 2 ("), raised.value.message
    assert reason in raised.value.message
    assert raised.value.details == {"field": "requirements.txt", "line": 2}
