"""The SDK's threads where the platform has no signal masks (Windows, for local runs)."""

from __future__ import annotations

import signal
import threading

import pytest

from joliba.sdk import threads


def test_without_signal_masks_threads_start_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "_MASKS", False)
    monkeypatch.delattr(signal, "pthread_sigmask")  # as on Windows: any call would fail
    ran = threading.Event()
    threads.start_daemon(ran.set, name="joliba-test").join(timeout=10)
    assert ran.is_set()
    threads.leave_signals_to_main()
