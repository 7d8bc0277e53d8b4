#!/usr/bin/env bash
# One-node SLURM (+ munge) on this machine, for the SLURM execution backend's tests and CI.
#
#   bash scripts/slurm_local.sh start    # idempotent: reuses a running cluster
#   bash scripts/slurm_local.sh status
#   bash scripts/slurm_local.sh stop
#   export SLURM_CONF=/tmp/nanoresearch-slurm/slurm.conf   # printed by `start`
#
# Needs root (munged, slurmctld and slurmd run as root here) and Debian's slurm-wlm and
# munge packages. Everything lives under $NR_SLURM_DIR (default /tmp/nanoresearch-slurm):
# config, state, spool, logs, pid files, the munge socket. Listens on 127.0.0.1 only
# (ports $NR_SLURMCTLD_PORT/$NR_SLURMD_PORT, default 16817/16818).
set -euo pipefail

DIR="${NR_SLURM_DIR:-/tmp/nanoresearch-slurm}"
CTLD_PORT="${NR_SLURMCTLD_PORT:-16817}"
SLURMD_PORT="${NR_SLURMD_PORT:-16818}"
CONF="$DIR/slurm.conf"
MUNGE_SOCKET="$DIR/munge/munge.socket"
export SLURM_CONF="$CONF"

die() { echo "slurm_local: $*" >&2; exit 1; }

need() {
  for b in munged slurmctld slurmd sbatch scontrol sinfo; do
    command -v "$b" >/dev/null || die "$b not found: apt-get install slurm-wlm munge"
  done
  [ "$(id -u)" = 0 ] || die "must run as root (it starts munged, slurmctld and slurmd)"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  local host cpus mem
  host="$(hostname -s)"
  cpus="$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' | head -1)"
  mem="$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)"
  mem=$(( mem > 1024 ? mem - 512 : mem ))  # leave the OS some room
  mkdir -p "$DIR"/{state,spool,log,munge}
  cat > "$CONF" <<EOF
# written by scripts/slurm_local.sh - one node on 127.0.0.1
ClusterName=nanoresearch
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=${MUNGE_SOCKET}
StateSaveLocation=${DIR}/state
SlurmdSpoolDir=${DIR}/spool
SlurmctldPidFile=${DIR}/slurmctld.pid
SlurmdPidFile=${DIR}/slurmd.pid
SlurmctldLogFile=${DIR}/log/slurmctld.log
SlurmdLogFile=${DIR}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if alive "$DIR/munged.pid"; then return; fi
  munged --force --socket="$MUNGE_SOCKET" --pid-file="$DIR/munged.pid" \
         --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munge.seed" \
         --key-file=/etc/munge/munge.key
  for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && return; sleep 0.1; done
  die "munged did not start; see $DIR/log/munged.log"
}

start() {
  need
  if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && scontrol ping >/dev/null 2>&1; then
    echo "slurm_local: already running"
  else
    write_conf
    start_munge
    alive "$DIR/slurmctld.pid" || slurmctld -i
    alive "$DIR/slurmd.pid" || slurmd -N localhost
  fi
  for _ in $(seq 60); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
      echo "SLURM_CONF=$CONF"
      echo "slurm_local: up; stop with: bash scripts/slurm_local.sh stop"
      return 0
    fi
    sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(down|drain)' && \
      scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
    sleep 0.5
  done
  die "the node did not become idle; see $DIR/log/slurmctld.log and $DIR/log/slurmd.log"
}

stop() {
  for p in slurmd slurmctld munged; do
    if alive "$DIR/$p.pid"; then kill "$(cat "$DIR/$p.pid")" && echo "stopped $p"; fi
  done
}

status() {
  for p in munged slurmctld slurmd; do
    if alive "$DIR/$p.pid"; then echo "$p: running ($(cat "$DIR/$p.pid"))"; else echo "$p: stopped"; fi
  done
  alive "$DIR/slurmctld.pid" && sinfo || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
