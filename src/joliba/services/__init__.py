"""Use cases, one module per resource. Services take a session, flush, and never commit."""
