"""Sends the emails about ended runs from its own thread: a slow or absent SMTP server
never holds up the runner."""

from __future__ import annotations

import logging
import queue
import smtplib
import threading
import uuid

from joliba.services import notifications
from joliba.services.mail import Mailer
from joliba.services.platform import Platform

log = logging.getLogger("joliba.runner")


class Notifier:
    def __init__(self, platform: Platform) -> None:
        url = platform.settings.smtp_url
        self.platform = platform
        self.mailer = Mailer.from_url(url) if url else None
        self._queue: queue.Queue[uuid.UUID | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="joliba-notifier", daemon=True)

    def start(self) -> None:
        if self.mailer is not None:
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def run_ended(self, run_id: uuid.UUID) -> None:
        if self.mailer is not None:
            self._queue.put(run_id)

    def _work(self) -> None:
        assert self.mailer is not None
        while (run_id := self._queue.get()) is not None:
            try:
                with self.platform.db.session(write=False) as session:
                    notice = notifications.notice_for(
                        session, run_id, self.platform.settings.base_url
                    )
                if notice is not None:
                    self.mailer.send(notice.to, notice.subject, notice.body)
            except (OSError, smtplib.SMTPException) as exc:
                # The server's address is logged, never its credentials.
                log.warning(
                    "could not email about run %s via %s: %s", run_id, self.mailer.host, exc
                )
            except Exception:
                log.exception("could not email about run %s", run_id)
