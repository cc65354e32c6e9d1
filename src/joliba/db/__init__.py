"""Metadata database: tables, engine (SQLite pragmas, PostgreSQL) and Alembic migrations."""
