"""Sending email through JOLIBA_SMTP_URL (smtp:// with optional STARTTLS, or smtps://)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from joliba.domain.errors import Invalid

log = logging.getLogger("joliba.mail")


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    username: str = ""
    password: str = ""
    #: "plain", "starttls" (smtp://…?starttls=true) or "ssl" (smtps://).
    security: str = "plain"
    sender: str = "joliba@localhost"
    timeout: float = 20.0

    @classmethod
    def from_url(cls, url: str) -> Mailer:
        """``smtp://user:password@host:port?from=joliba@example.org&starttls=true``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise Invalid("SMTP_URL: use smtp://user:password@host:port or smtps://…")
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        security = "ssl" if parts.scheme == "smtps" else "plain"
        if query.get("starttls", "").lower() in ("1", "true", "yes"):
            security = "starttls"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if security == "ssl" else 25),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            security=security,
            sender=unquote(query.get("from", "")) or f"joliba@{parts.hostname}",
        )

    def send(self, to: list[str], subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message.set_content(body)
        context = ssl.create_default_context()
        if self.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)
