"""Alembic migrations of postguard's PostgreSQL schema (run them with ``service.storage.migrate``)."""
