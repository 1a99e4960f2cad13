# tests/pg.bash - a private PostgreSQL cluster for a test run. Source it.
#
#   pg_start            initdb + start a cluster in a new temp dir; sets
#                       PG_DIR (the temp dir), PG_SOCK (its socket dir),
#                       PG_USER (the cluster's superuser)
#   pg_createdb NAME    creates database NAME, prints its conninfo
#   pg_conninfo NAME    prints the conninfo of database NAME
#   pg_psql NAME ARGS   runs psql on database NAME
#   pg_stop             stops the cluster and removes PG_DIR (a script
#                       that starts one sets `trap pg_stop EXIT`)
#   pg_attach           uses the ctest fixture's cluster instead
#                       (MESH_TEST_PG_FILE, tests/pg_fixture.sh)
#
# The cluster listens only on a Unix socket inside PG_DIR (no TCP), trusts
# every local connection (it is reachable only through that directory),
# and runs with fsync off: its data is thrown away at the end. Nothing
# here touches the cluster the Debian package may have created.
#
# PostgreSQL refuses to run as root, so as root (CI) the server runs as
# the `postgres` system user the Debian package creates, and PG_DIR is
# owned by it. Clients (psql, meshd, unit tests) may connect from any OS
# user: trust authentication lets them log in as PG_USER.
#
# A test that needs PostgreSQL and cannot start it fails: the project's
# setup script (scripts/setup-deps.sh) installs it, so missing means broken.

pg__die() {
  echo "pg.bash: $*" >&2
  return 1
}

# The server binaries: PG_BINDIR if set, else the newest Debian install.
pg__bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    echo "$PG_BINDIR"
    return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] ||
    pg__die "PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/initdb); run scripts/setup-deps.sh" ||
    return 1
  echo "$d"
}

# Runs a server-side command as the cluster's owner.
pg__as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  local bin
  bin=$(pg__bindir) || return 1
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 ||
      pg__die "running as root, but there is no 'postgres' user to run the server as (run scripts/setup-deps.sh)" ||
      return 1
    PG_USER=postgres
  else
    PG_USER=$(id -un)
  fi
  # As root, /tmp: the postgres user must reach it whatever TMPDIR says.
  local tmp=${TMPDIR:-/tmp}
  [ "$(id -u)" -eq 0 ] && tmp=/tmp
  PG_DIR=$(mktemp -d "$tmp/meshpg.XXXXXX") || return 1
  PG_SOCK=$PG_DIR/sock
  mkdir -p "$PG_SOCK"
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$PG_DIR"
  # The socket directory must be reachable by whoever runs the clients.
  chmod 0755 "$PG_DIR"
  if ! pg__as_owner "$bin/initdb" -D "$PG_DIR/data" -U "$PG_USER" \
    -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    pg_stop
    pg__die "initdb failed"
    return 1
  fi
  # listen_addresses='' : no TCP at all; the socket lives in PG_SOCK.
  if ! pg__as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
    -w -t 60 -o "-c listen_addresses='' -c unix_socket_directories='$PG_SOCK' \
      -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null; then
    cat "$PG_DIR/server.log" >&2
    pg_stop
    pg__die "the server did not start"
    return 1
  fi
  export PG_DIR PG_SOCK PG_USER
}

pg_conninfo() {
  echo "host=$PG_SOCK dbname=$1 user=$PG_USER"
}

pg_psql() {
  local db=$1
  shift
  "$(pg__bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -U "$PG_USER" \
    -d "$db" "$@"
}

pg_createdb() {
  [[ $1 =~ ^[a-z_][a-z0-9_]*$ ]] || pg__die "bad database name '$1'" || return 1
  pg_psql postgres -c "CREATE DATABASE $1" >/dev/null || return 1
  pg_conninfo "$1"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] || return 0
  local bin
  bin=$(pg__bindir) || return 1
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    pg__as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
  unset PG_DIR PG_SOCK
}

# Uses the cluster of the ctest fixture "pg" (tests/pg_fixture.sh) rather
# than starting one: sets PG_SOCK and PG_USER from the conninfo in
# $MESH_TEST_PG_FILE, after which pg_createdb works. Fails, saying why,
# when the fixture's file is missing.
pg_attach() {
  local f=${MESH_TEST_PG_FILE:-} ci
  [ -n "$f" ] && [ -s "$f" ] ||
    pg__die "no PostgreSQL from the ctest fixture (MESH_TEST_PG_FILE='$f'); run through ctest, or start one with tests/pg_fixture.sh start DIR" ||
    return 1
  ci=$(cat "$f")
  PG_SOCK=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$ci")
  PG_USER=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$ci")
  export PG_SOCK PG_USER
}
