#!/usr/bin/env bash
# Install and start a local PostgreSQL server with a test role and database for the links
# durability test (tests/links/test_postgres.py). Idempotent; does nothing without root or apt.
# The test reads REDCAT_TEST_PG_URL (default below) and skips when no server answers.
set -euo pipefail
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "postgres: not root or no apt-get; PostgreSQL tests will be skipped" >&2
    exit 0
fi
if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk '$1 == "'"$version"'" && $2 == "main" {print $4}' | grep -q online; then
    pg_ctlcluster "$version" main start
fi
psql_as_postgres() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
if [ "$(psql_as_postgres "SELECT 1 FROM pg_roles WHERE rolname = 'redcat'")" != 1 ]; then
    psql_as_postgres "CREATE ROLE redcat LOGIN PASSWORD 'redcat'"
fi
if [ "$(psql_as_postgres "SELECT 1 FROM pg_database WHERE datname = 'redcat_test'")" != 1 ]; then
    psql_as_postgres "CREATE DATABASE redcat_test OWNER redcat"
fi
echo "postgres: $version main online, database redcat_test (role redcat)"
