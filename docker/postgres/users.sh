#!/bin/bash
# Runs after inventory.sql (docker-entrypoint-initdb.d runs files in name order): the Debezium replication user and the
# changecast state database. Passwords come from the container environment (docker-compose.yml).
set -euo pipefail
: "${DEBEZIUM_DB_USER:?}" "${DEBEZIUM_DB_PASSWORD:?}" "${CHANGECAST_STATE_USER:?}" "${CHANGECAST_STATE_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v dbz_user="$DEBEZIUM_DB_USER" -v dbz_password="$DEBEZIUM_DB_PASSWORD" \
  -v state_user="$CHANGECAST_STATE_USER" -v state_password="$CHANGECAST_STATE_PASSWORD" <<'SQL'
-- Debezium: logical replication + read access for the initial snapshot
CREATE ROLE :"dbz_user" WITH LOGIN REPLICATION PASSWORD :'dbz_password';
GRANT USAGE ON SCHEMA inventory TO :"dbz_user";
GRANT SELECT ON ALL TABLES IN SCHEMA inventory TO :"dbz_user";
GRANT CONNECT ON DATABASE postgres TO :"dbz_user";

-- changecast: offsets, embedded-registry and migration state (STATE_URL)
CREATE ROLE :"state_user" WITH LOGIN PASSWORD :'state_password';
CREATE DATABASE changecast OWNER :"state_user";
SQL
