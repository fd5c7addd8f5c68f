"""PostgreSQL: engine and sessions, tables, the decisions repository, retries, migrations."""
