#!/usr/bin/env bash
# A throwaway PostgreSQL streaming replica of a local primary, for the read-replica tests and CI.
#
#   replica.sh start PRIMARY_PORT REPLICA_PORT DATA_DIR   copy the primary (pg_basebackup -R) and start it
#   replica.sh stop DATA_DIR                              stop it and delete DATA_DIR
#
# The copy holds the whole cluster (every database), so it is taken with a fast checkpoint and the
# WAL streamed alongside. PostgreSQL refuses to run as root: run as root, the server programs run
# as the postgres OS user. The primary must accept replication connections from 127.0.0.1
# (a "host replication ..." line in its pg_hba.conf; .ci/run adds one).
set -euo pipefail

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

fail() { echo "replica.sh: $*" >&2; exit 1; }

start() {
  local primary_port=$1 port=$2 dir=$3
  local q=(psql -h 127.0.0.1 -p "$primary_port" -U postgres -d postgres -Atq)
  local version bindir
  version=$("${q[@]}" -c "SHOW server_version_num") || fail "no primary on 127.0.0.1:$primary_port"
  bindir=/usr/lib/postgresql/$((version / 10000))/bin
  [ -x "$bindir/pg_ctl" ] || bindir=$(pg_config --bindir)
  [ -x "$bindir/pg_ctl" ] && [ -x "$bindir/pg_basebackup" ] || fail "pg_ctl/pg_basebackup not found (looked in $bindir)"
  [ "$("${q[@]}" -c "SHOW wal_level")" != minimal ] || fail "the primary has wal_level=minimal; set it to replica"
  [ "$("${q[@]}" -c "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database)")" != 0 ] ||
    fail "the primary refuses replication connections: add 'host replication all 127.0.0.1/32 trust' to $("${q[@]}" -c "SHOW hba_file") and reload"
  if pg_isready -h 127.0.0.1 -p "$port" -q; then fail "port $port is taken"; fi

  mkdir -p "$dir"
  chmod 700 "$dir"
  [ "$(id -u)" != 0 ] || chown postgres: "$dir"
  as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir" -R -X stream \
    --checkpoint=fast --no-sync
  # A hot standby needs these at least as large as on the primary; the rest keeps it small and local.
  local same=""
  for name in max_connections max_worker_processes max_wal_senders max_prepared_transactions \
              max_locks_per_transaction; do
    same+="$name = $("${q[@]}" -c "SHOW $name")"$'\n'
  done
  # Debian keeps the configuration outside the data directory, so the copy may have none: write one
  # (appended when it exists: the later line wins).
  as_pg tee -a "$dir/postgresql.conf" >/dev/null <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
hba_file = '$dir/pg_hba.conf'
ident_file = '$dir/pg_ident.conf'
hot_standby = on
fsync = off
shared_buffers = 32MB
ssl = off
logging_collector = off
archive_mode = off
$same
EOF
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' | as_pg tee "$dir/pg_hba.conf" >/dev/null
  as_pg touch "$dir/pg_ident.conf"
  # It accepts connections once it has replayed the WAL written during the copy: on a busy shared
  # server (bulk loads, databases created and dropped meanwhile) that can take minutes.
  as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 600 start >/dev/null ||
    { cat "$dir/server.log" >&2 || true; fail "the replica did not start"; }
  for _ in $(seq 1 60); do
    [ "$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atq -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ] &&
      return 0
    sleep 0.5
  done
  fail "the replica on port $port is not accepting connections in recovery"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  local bindir=/usr/lib/postgresql/$(cat "$dir/PG_VERSION" 2>/dev/null || echo none)/bin
  [ -x "$bindir/pg_ctl" ] || bindir=$(pg_config --bindir 2>/dev/null || echo /usr/bin)
  if [ -f "$dir/postmaster.pid" ]; then
    as_pg "$bindir/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -eq 4 ] || fail "usage: replica.sh start PRIMARY_PORT REPLICA_PORT DATA_DIR"; start "$2" "$3" "$4" ;;
  stop) [ $# -eq 2 ] || fail "usage: replica.sh stop DATA_DIR"; stop "$2" ;;
  *) fail "usage: replica.sh start PRIMARY_PORT REPLICA_PORT DATA_DIR | stop DATA_DIR" ;;
esac
