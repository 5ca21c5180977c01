#!/usr/bin/env bash
# A throw-away single-node SLURM cluster for the live cluster test (tests/test_slurm.py):
# munge, MariaDB, slurmdbd, slurmctld and slurmd, with their state, logs and configuration in
# one folder and on their own ports. Outside it: munge's standard socket (/run/munge) and the
# configless copy of slurm.conf that slurmd links at /run/slurm/conf, as on a production node.
#
#   tests/slurm/cluster.sh install   # apt-get install the Debian packages when missing (root)
#   tests/slurm/cluster.sh start     # write the configuration, start the daemons, wait for
#                                    # an idle node; prints the SLURM_CONF line to export
#   tests/slurm/cluster.sh stop      # stop the daemons and remove the folder
#
# The folder is $TOMOBENCH_SLURM_DIR (default: $TMPDIR/tomobench-slurm). Every step fails with
# one line naming what went wrong; the daemons' logs are under <folder>/log.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${TOMOBENCH_SLURM_DIR:-${TMPDIR:-/tmp}/tomobench-slurm}"
CTLD_PORT=16817
SLURMD_PORT=16818
DBD_PORT=16819
DB_PORT=16306
MUNGE_SOCKET=/run/munge/munge.socket.2
ACCOUNT=tomobench
PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
COMMANDS=(munged munge unmunge mariadbd slurmdbd slurmctld slurmd sbatch sacct sacctmgr)

fail() {
  echo "tests/slurm/cluster.sh: $*" >&2
  exit 1
}

missing_commands() {
  local name missing=()
  for name in "${COMMANDS[@]}"; do
    PATH="$PATH:/usr/sbin:/sbin" command -v "$name" > /dev/null || missing+=("$name")
  done
  echo "${missing[*]}"
}

install() {
  if [ -z "$(missing_commands)" ]; then
    echo "SLURM, munge and MariaDB are installed"
    return
  fi
  [ "$(id -u)" -eq 0 ] || fail "not root: cannot install ${PACKAGES[*]}"
  command -v apt-get > /dev/null || fail "no apt-get: install ${PACKAGES[*]} by hand"
  export DEBIAN_FRONTEND=noninteractive
  local log="${TMPDIR:-/tmp}/tomobench-slurm-apt.log"
  if ! timeout 900 apt-get install -y --no-install-recommends "${PACKAGES[@]}" > "$log" 2>&1; then
    timeout 300 apt-get update > "$log" 2>&1 || fail "apt-get update failed (see $log)"
    timeout 900 apt-get install -y --no-install-recommends "${PACKAGES[@]}" > "$log" 2>&1 \
      || fail "apt-get install ${PACKAGES[*]} failed (see $log)"
  fi
  [ -z "$(missing_commands)" ] || fail "still missing after apt-get: $(missing_commands)"
  echo "installed ${PACKAGES[*]}"
}

# wait_for <seconds> <description> <command...>: retry the command every half second.
wait_for() {
  local seconds="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what did not come up within ${seconds} s (logs: $STATE/log)"
    sleep 0.5
  done
}

fill_template() {
  sed -e "s|@STATE@|$STATE|g" -e "s|@HOST@|$HOST|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
    -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "s|@DBD_PORT@|$DBD_PORT|g" \
    -e "s|@DB_PORT@|$DB_PORT|g" -e "s|@DB_PASSWORD@|$DB_PASSWORD|g" \
    -e "s|@NODE_LINE@|$NODE_LINE|g" -e "s|@MAX_TIME_MIN@|1440|g" "$1"
}

node_is_idle() {
  [ "$(sinfo --noheader --nodes="$HOST" --format=%t 2> /dev/null)" = "idle" ]
}

start() {
  export PATH="$PATH:/usr/sbin:/sbin"
  [ -z "$(missing_commands)" ] || fail "missing commands: $(missing_commands) (run: $0 install)"
  [ "$(id -u)" -eq 0 ] || fail "not root: the test cluster runs its daemons as root"
  [ ! -e "$STATE/run" ] || fail "$STATE exists: a test cluster is running (run: $0 stop)"
  [ ! -e /etc/slurm/slurm.conf ] || fail "/etc/slurm/slurm.conf exists: this machine has a SLURM of its own"
  mkdir -p "$STATE"/{etc,munge,mysql,slurmctld,slurmd,run,log}
  chmod 755 "$STATE/munge"
  HOST="$(hostname -s)"
  NODE_LINE="$(slurmd -C | head -n 1)"
  [[ "$NODE_LINE" == NodeName=* ]] || fail "slurmd -C did not describe this node: $NODE_LINE"
  DB_PASSWORD="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  export SLURM_CONF="$STATE/etc/slurm.conf"

  # munge at its standard socket (configless slurmd authenticates before it has a config):
  # the machine's own munged when one answers, else one with a fresh key, stopped by `stop`.
  if ! munge -n 2> /dev/null | unmunge > /dev/null 2>&1; then
    mkdir -p "$(dirname "$MUNGE_SOCKET")"
    dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$STATE/munge/munge.key"
    munged --force --key-file="$STATE/munge/munge.key" --socket="$MUNGE_SOCKET" \
      --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
      --seed-file="$STATE/munge/munged.seed" || fail "munged did not start (see $STATE/log)"
    wait_for 20 munged test -S "$MUNGE_SOCKET"
  fi

  # MariaDB for slurmdbd, on 127.0.0.1 only.
  mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user=root --skip-test-db \
    --auth-root-authentication-method=socket > "$STATE/log/mariadb-install.log" 2>&1 \
    || fail "mariadb-install-db failed (see $STATE/log/mariadb-install.log)"
  (mariadbd --no-defaults --user=root --datadir="$STATE/mysql" \
    --socket="$STATE/run/mysql.socket" --port="$DB_PORT" --bind-address=127.0.0.1 \
    --pid-file="$STATE/run/mariadbd.pid" --log-error="$STATE/log/mariadbd.log" \
    --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 > /dev/null 2>&1 &)
  wait_for 60 MariaDB mariadb-admin --no-defaults --socket="$STATE/run/mysql.socket" ping
  mariadb --no-defaults --socket="$STATE/run/mysql.socket" -e "
    CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
    || fail "could not create the slurmdbd database user"

  fill_template "$HERE/slurm.conf.in" > "$STATE/etc/slurm.conf"
  fill_template "$HERE/slurmdbd.conf.in" > "$STATE/etc/slurmdbd.conf"
  chmod 600 "$STATE/etc/slurmdbd.conf"
  : > "$STATE/etc/plugstack.conf"

  slurmdbd || fail "slurmdbd did not start (see $STATE/log/slurmdbd.log)"
  wait_for 60 slurmdbd sacctmgr --noheader list cluster
  sacctmgr --immediate add cluster tomobench > /dev/null
  sacctmgr --immediate add account "$ACCOUNT" Description="tomobench tests" \
    Organization=tomobench > /dev/null
  sacctmgr --immediate add user "$(id -un)" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" \
    > /dev/null

  slurmctld || fail "slurmctld did not start (see $STATE/log/slurmctld.log)"
  wait_for 60 slurmctld scontrol ping
  env -u SLURM_CONF slurmd --conf-server "127.0.0.1:$CTLD_PORT" \
    || fail "slurmd did not start (see $STATE/log/slurmd.log)"
  wait_for 60 "node $HOST" node_is_idle
  echo "export SLURM_CONF=$SLURM_CONF"
}

stop_daemon() {
  local pid_file="$STATE/run/$1.pid" pid
  [ -f "$pid_file" ] || return 0
  pid="$(cat "$pid_file")"
  kill "$pid" 2> /dev/null || return 0
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.25
  done
  kill -9 "$pid" 2> /dev/null || true
}

stop() {
  [ -d "$STATE" ] || return 0
  local daemon
  for daemon in slurmd slurmctld slurmdbd mariadbd munged; do
    stop_daemon "$daemon"
  done
  if [ "$(readlink /run/slurm/conf 2> /dev/null)" = "$STATE/slurmd/conf-cache" ]; then
    rm -f /run/slurm/conf
  fi
  rm -rf "$STATE"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) fail "usage: $0 install|start|stop" ;;
esac
