#!/bin/bash
# Creates the role postguard runs as (deploy/compose.yaml mounts this into the official postgres
# image's /docker-entrypoint-initdb.d/, so it runs once, when the data volume is first created).
# The migration runs as POSTGRES_USER, which owns the tables, and grants this role exactly what
# the service needs: it can read and append to audit_log, never rewrite or delete it
# (POSTGUARD_DATABASE_RUNTIME_ROLE; docs/operations.md, "Database roles").
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_user="$POSTGUARD_APP_USER" -v app_password="$POSTGUARD_APP_PASSWORD" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
SQL
