"""Keeps Superset in step with the workspace databases (with JOLIBA_SUPERSET_URL).

One thread: at start, at least every minute, and when a run succeeds or a dataset version
is published, it registers new workspace databases and their new or changed tables as
Superset datasets (``SupersetLink.sync``). While Superset is down it only logs, once per
outage, and tries again at the next pass.
"""

from __future__ import annotations

import logging

from joliba.runner.loops import WokenLoop
from joliba.services.platform import Platform
from joliba.services.superset import SupersetLink

log = logging.getLogger("joliba.superset")
POLL_SECONDS = 60.0


class _Pass:
    def __init__(self, link: SupersetLink) -> None:
        self.link = link
        self.down = False

    def __call__(self) -> None:
        if not self.link.api.healthy():
            if not self.down:
                log.warning("Superset at %s does not answer; trying again", self.link.url)
            self.down = True
            return
        self.down = False
        report = self.link.sync()
        for error in report.errors:
            log.warning("Superset sync: %s", error)
        if report.databases or report.datasets_added:
            log.info(
                "Superset: databases %s, new datasets %s",
                ", ".join(report.databases) or "-",
                ", ".join(report.datasets_added) or "-",
            )


def superset_sync(platform: Platform) -> WokenLoop | None:
    link = platform.superset
    if link is None:
        return None
    return WokenLoop(
        "joliba-superset-sync",
        _Pass(link),
        platform.superset_waiting,
        seconds=POLL_SECONDS,
        log=log,
    )
