#!/usr/bin/env bash
# Make sure the local PostgreSQL the tests use (127.0.0.1:5432, database `test`, trust auth) is up.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
for _ in $(seq 1 30); do
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
            || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test"
        exit 0
    fi
    sleep 1
done
echo "PostgreSQL is not reachable at 127.0.0.1:5432; start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
exit 1
