"""Keeps followed workspace-database tables in step with their dataset's latest version.

One thread: woken when a dataset version is published (``DATASET_PUBLISHED``) and at least
every minute, it loads the new version into every followed table that is behind
(``services.table_loads.refresh``). A server that was down catches up at its first pass.
"""

from __future__ import annotations

import logging

from joliba.runner.loops import WokenLoop
from joliba.services import table_loads
from joliba.services.platform import Platform

log = logging.getLogger("joliba.table_loads")
POLL_SECONDS = 60.0


def table_follower(platform: Platform) -> WokenLoop:
    return WokenLoop(
        "joliba-table-follower",
        lambda: table_loads.refresh(platform),
        platform.loads_waiting,
        seconds=POLL_SECONDS,
        log=log,
    )
