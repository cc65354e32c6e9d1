"""Talking to a Joliba server over its REST API (used by the CLI; no server code here)."""
