"""The floor under both edges (``api`` and ``web``): the caller, sessions, errors, views."""
