"""Secrets that travel in URLs never reach the log."""

from __future__ import annotations

import logging

from joliba.logs import RedactSecrets, install_redaction, redact


def test_access_log_lines_hide_invitation_secrets() -> None:
    secret = "inv_Zx8fK2mQ0a9bYc7dWe6fVg5hUi4jTk3lSm2nRo1pQq0"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/invitations/{secret}", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    line = record.getMessage()
    assert secret not in line and "/invitations/inv_…" in line


def test_tokens_in_messages_are_masked() -> None:
    assert redact("token jlb_abcdefghijklmnop used") == "token jlb_… used"
    assert redact("nothing secret here") == "nothing secret here"


def test_install_is_idempotent() -> None:
    install_redaction()
    install_redaction()
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactSecrets) for f in access.filters) == 1
