"""The policy table itself: invariants, and the docs page that shows it."""

from __future__ import annotations

from pathlib import Path

from joliba.domain.permissions import POLICY, READ_ACTIONS, Action, Role, allows, policy_markdown

DOCS = Path(__file__).parents[2] / "docs" / "permissions.md"


def test_every_action_has_a_rule() -> None:
    assert set(POLICY) == set(Action)


def test_viewers_only_read() -> None:
    for action, roles in POLICY.items():
        if Role.VIEWER in roles:
            assert action in READ_ACTIONS, action


def test_roles_are_nested() -> None:
    for roles in POLICY.values():
        if Role.VIEWER in roles:
            assert Role.EDITOR in roles
        if Role.EDITOR in roles:
            assert Role.ADMIN in roles


def test_outsiders_get_nothing_and_superusers_everything() -> None:
    for action in Action:
        assert not allows(None, action)
        assert allows(None, action, superuser=True)


def test_docs_show_the_policy_table() -> None:
    assert policy_markdown() in DOCS.read_text(), "run: python -m joliba.domain.permissions"
