#!/usr/bin/env bash
# tests/pg_fixture.sh start|stop STATE_DIR - the ctest fixture "pg"
# (tests/CMakeLists.txt): one private PostgreSQL cluster (tests/pg.bash)
# for the tests of a run that need one.
#
# start writes STATE_DIR/conninfo, one line: the conninfo of an empty
# database "mesh_test" whose role may create databases (tests that want
# their own create one through it); the tests find it through
# MESH_TEST_PG_FILE. stop stops the cluster and removes its files.
set -euo pipefail
. "$(dirname "$0")/pg.bash"

cmd=${1:?start or stop}
state=${2:?state dir}
mkdir -p "$state"

stop_old() {
  if [ -f "$state/pg_dir" ]; then
    PG_DIR=$(cat "$state/pg_dir")
    pg_stop
  fi
  rm -f "$state/pg_dir" "$state/conninfo"
}

case $cmd in
start)
  # A run killed before its cleanup left its cluster behind: stop it.
  stop_old
  pg_start
  echo "$PG_DIR" >"$state/pg_dir"
  pg_createdb mesh_test >"$state/conninfo.tmp"
  mv "$state/conninfo.tmp" "$state/conninfo"
  echo "pg_fixture: cluster in $PG_DIR: $(cat "$state/conninfo")"
  ;;
stop) stop_old ;;
*)
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
  ;;
esac
