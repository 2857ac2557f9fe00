#!/usr/bin/env bash
# MySQL 8.4 replica (mysql-replica1 / mysql-replica2): run once by the image's entrypoint on an
# empty data directory, on the temporary server it starts for initialisation (no TCP listener,
# but outgoing connections work). The server already runs with --read-only=ON (see
# docker-compose.yml); root bypasses read_only, so nothing here is blocked.
#
#  1. wait until the primary answers as the replication account (it has run its own init),
#  2. forget every local GTID (the entrypoint's own statements run with sql_log_bin=0, but a
#     replica must start with an empty gtid_executed or auto-positioning would skip or conflict),
#  3. point at the primary with GTID auto-positioning and start replicating: the schema and the
#     accounts arrive from the primary's binary log,
#  4. persist super_read_only=ON, effective from the real start on: not even root writes here
#     by accident. Sluice's promotion (SET GLOBAL read_only=OFF) clears it at runtime.
#
# Works both executed (it is executable) and sourced by the entrypoint (if the executable bit
# got lost: then docker_process_sql exists). No `set -u`: sourced, it would leak into the
# entrypoint, which tests unset variables.
set -eo pipefail

primary_host="${SOURCE_HOST:-mysql-primary}"
repl_user=repl
repl_password=repl-secret

if declare -F docker_process_sql >/dev/null; then
  run_sql() { docker_process_sql "$@"; }
else
  run_sql() { mysql --protocol=socket -uroot -p"${MYSQL_ROOT_PASSWORD}" "$@"; }
fi

echo "replica init: waiting for ${primary_host} (account ${repl_user})"
tries=0
until mysql --protocol=tcp -h "${primary_host}" -P 3306 -u "${repl_user}" -p"${repl_password}" \
  --get-server-public-key --connect-timeout=3 -e 'SELECT 1' >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "${tries}" -ge 180 ]; then
    echo "replica init: ${primary_host} not reachable as ${repl_user} after 180 s" >&2
    false   # set -e: the entrypoint stops, the container exits non-zero
  fi
  sleep 1
done
echo "replica init: ${primary_host} is up; configuring GTID replication"

run_sql <<SQL
RESET BINARY LOGS AND GTIDS;
CHANGE REPLICATION SOURCE TO
  SOURCE_HOST='${primary_host}',
  SOURCE_PORT=3306,
  SOURCE_USER='${repl_user}',
  SOURCE_PASSWORD='${repl_password}',
  SOURCE_AUTO_POSITION=1,
  GET_SOURCE_PUBLIC_KEY=1,
  SOURCE_CONNECT_RETRY=5,
  SOURCE_RETRY_COUNT=86400;
START REPLICA;
SET PERSIST super_read_only = ON;
SQL
echo "replica init: replication from ${primary_host} started"
