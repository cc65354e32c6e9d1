"""The REST API under /api/v1: one router per resource, auth and sessions in deps.py."""
