#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster in DIR (unix socket only, port 5433 in DIR).
# As root, the server runs as the unprivileged Debian `postgres` user (initdb refuses root).
# When TENDERPOOL_TEST_DSN is set, nothing is started: that server is used instead.
set -euo pipefail
cmd=${1:?usage: pgtmp.sh start|stop|dsn DIR}
dir=${2:?usage: pgtmp.sh start|stop|dsn DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "pgtmp: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
dsn="postgresql:///tenderpool?host=$dir&port=5433"

case $cmd in
start)
    if [ -n "${TENDERPOOL_TEST_DSN:-}" ]; then
        echo "$TENDERPOOL_TEST_DSN" > "$dir/dsn"
        echo "pgtmp: using TENDERPOOL_TEST_DSN"
        exit 0
    fi
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        # the postgres user must be able to reach DIR
        p=$dir
        while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    fi
    if [ -f "$data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "pgtmp: already running in $data"
    else
        if [ ! -f "$data/PG_VERSION" ]; then
            as_pg "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
                || { cat "$dir/initdb.log" >&2; exit 1; }
            cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5433
shared_buffers = 256MB
max_connections = 200
fsync = on
synchronous_commit = on
wal_level = minimal
max_wal_senders = 0
max_wal_size = 4GB
checkpoint_timeout = 15min
log_min_messages = warning
CONF
        fi
        as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null \
            || { cat "$dir/server.log" >&2; exit 1; }
    fi
    as_pg "$bindir/psql" -h "$dir" -p 5433 -U postgres -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = 'tenderpool'" | grep -q 1 \
        || as_pg "$bindir/createdb" -h "$dir" -p 5433 -U postgres tenderpool
    echo "$dsn&user=postgres" > "$dir/dsn"
    echo "pgtmp: PostgreSQL running, DSN $(cat "$dir/dsn")"
    ;;
stop)
    if [ -f "$data/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    fi
    echo "pgtmp: stopped"
    ;;
restart)
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w restart -l "$dir/server.log" >/dev/null
    ;;
dsn)
    cat "$dir/dsn"
    ;;
*)
    echo "pgtmp: unknown command $cmd" >&2; exit 2 ;;
esac
