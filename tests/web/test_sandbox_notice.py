"""Instance admins see on every page when pipeline code is not sandboxed."""

from __future__ import annotations

import pytest

from tests.conftest import World, sandbox_problem
from tests.web.page_client import Pages


def test_admins_are_warned_on_every_page_when_the_sandbox_is_off(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, member = world.person(superuser=True), world.person()
    ws = world.workspace(member)
    monkeypatch.setattr(world.platform.settings, "sandbox", "off")
    with Pages(world.server.url) as pages:
        as_root = pages.signed_in(root.email, root.password)
        as_member = pages.signed_in(member.email, member.password)
        for path in ("/workspaces", f"/w/{ws}", f"/w/{ws}/pipelines", "/account"):
            assert "The run sandbox is off (JOLIBA_SANDBOX=off)" in as_root.get(path).text, path
            assert "JOLIBA_SANDBOX" not in as_member.get(path).text, path
        monkeypatch.setattr(world.platform.settings, "sandbox", "on")
        shown = as_root.get("/workspaces").text
        assert "JOLIBA_SANDBOX=off" not in shown
        # With the sandbox on, admins are told only when it cannot start here.
        assert ("Pipelines cannot run" in shown) == (sandbox_problem() is not None)
