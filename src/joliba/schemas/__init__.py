"""Pydantic wire models of the REST API, one module per resource."""
