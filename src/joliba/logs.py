"""Server logging: one format, and secrets that travel in URLs masked before they are written."""

from __future__ import annotations

import logging
import re

# Invitation links (/invitations/inv_…) and webhook URLs (/hooks/jlw_…) carry their secret in
# the path; API and run tokens (jlb_…, jlr_…) should only travel in headers, but are masked
# too in case a client puts one in a URL.
_SECRET_IN_TEXT = re.compile(r"\b(inv_|jlb_|jlr_|jlw_)[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    return _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}…", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                redact(a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_redaction() -> None:
    """Attach the filter to the loggers that write request lines and errors."""
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "joliba"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
