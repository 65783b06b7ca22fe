#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the SLURM integration test (.ci/run) and for trying
# `sea experiment run --executor slurm` without a real cluster.
#
#   bash scripts/slurm-local.sh install   apt-get install slurm-wlm and munge (through sudo when not root)
#   bash scripts/slurm-local.sh start     write a slurm.conf for localhost, start munged, slurmctld and slurmd,
#                                         wait (bounded) until the node takes jobs; prints the SLURM_CONF to export
#   bash scripts/slurm-local.sh status    daemons, node and queue
#   bash scripts/slurm-local.sh stop      cancel our jobs and stop the daemons this script started
#   bash scripts/slurm-local.sh env       print `export SLURM_CONF=…` (eval it in your shell)
#
# Everything lives under $SEA_SLURM_DIR (default /tmp/sea-slurm): slurm.conf, state, spool, logs and pid files.
# The system's /etc/slurm is not touched: clients find this cluster through SLURM_CONF.
# Written for Debian 12's slurm-wlm 22.05 in a container: no cgroups (proctrack/linuxproc, task/none),
# SlurmUser=root, select/cons_tres over the CPUs of `nproc` and the memory of /proc/meminfo. There is no
# accounting daemon (slurmdbd), so `sacct` answers with an error here; the kit treats sacct as optional.
# Needs root (slurmd runs jobs as their submitter and must be able to switch users; munged needs /run/munge).
set -euo pipefail

DIR="${SEA_SLURM_DIR:-/tmp/sea-slurm}"
CONF="$DIR/slurm.conf"
CTLD_PORT="${SEA_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${SEA_SLURM_SLURMD_PORT:-6818}"
START_TIMEOUT_S="${SEA_SLURM_START_TIMEOUT:-60}"

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "needs root (or sudo) to run: $*"; fi
}

install_packages() {
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    say "slurm-wlm and munge are installed"
    return
  fi
  say "installing slurm-wlm and munge (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_works; then
    say "munged already answers"
    return
  fi
  command -v munged >/dev/null || die "munged not found (bash scripts/slurm-local.sh install)"
  if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    as_root mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then as_root mungekey --create --keyfile=/etc/munge/munge.key --force; else as_root dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
    as_root chown munge:munge /etc/munge/munge.key
    as_root chmod 0400 /etc/munge/munge.key
  fi
  as_root mkdir -p /run/munge /var/lib/munge /var/log/munge
  as_root chown munge:munge /run/munge /var/lib/munge /var/log/munge
  as_root chmod 0755 /run/munge
  # munged refuses to run as root; Debian runs it as the munge user.
  as_root runuser -u munge -- /usr/sbin/munged
  local i
  for ((i = 0; i < 50; i++)); do munge_works && { say "munged started"; return; }; sleep 0.2; done
  die "munged did not answer within 10 s (see /var/log/munge/munged.log)"
}

write_conf() {
  local host cpus mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  # slurmd refuses a node that reports less memory than configured: leave ~10% aside.
  mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster on $host for tests and local trials.
ClusterName=sealocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups in a container: track processes by parent pid, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# Without a default, a job that does not ask for memory is given all of it and runs alone on the node.
DefMemPerCPU=$((mem_mb / cpus))
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for 5 minutes; scancel'd jobs are killed 5 s after SIGTERM.
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  say "wrote $CONF ($host: $cpus CPUs, $mem_mb MB)"
}

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  command -v slurmctld >/dev/null || die "slurmctld not found (bash scripts/slurm-local.sh install)"
  start_munge
  write_conf
  export SLURM_CONF="$CONF"
  if pid_alive "$DIR/slurmctld.pid"; then say "slurmctld already running"; else as_root slurmctld -f "$CONF" -c && say "slurmctld started"; fi
  if pid_alive "$DIR/slurmd.pid"; then say "slurmd already running"; else as_root slurmd -f "$CONF" -c && say "slurmd started"; fi
  local deadline=$((SECONDS + START_TIMEOUT_S)) state=""
  while ((SECONDS < deadline)); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)
    case "$state" in
      idle* | mixed* | allocated*) say "node $(hostname -s) is $state; export SLURM_CONF=$CONF"; return ;;
      down* | drain*) scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  echo "--- slurmctld.log" >&2; tail -n 20 "$DIR/log/slurmctld.log" >&2 || true
  echo "--- slurmd.log" >&2; tail -n 20 "$DIR/log/slurmd.log" >&2 || true
  die "the node did not become idle within ${START_TIMEOUT_S}s (last state: ${state:-none})"
}

stop() {
  export SLURM_CONF="$CONF"
  if [[ -f "$CONF" ]] && pid_alive "$DIR/slurmctld.pid"; then scancel --user="$(id -un)" >/dev/null 2>&1 || true; fi
  local name pidfile
  for name in slurmd slurmctld; do
    pidfile="$DIR/$name.pid"
    if pid_alive "$pidfile"; then
      as_root kill "$(cat "$pidfile")"
      for _ in $(seq 50); do pid_alive "$pidfile" || break; sleep 0.2; done
      say "$name stopped"
    fi
  done
  # munged is left running: other programs on the machine may use it.
}

status() {
  export SLURM_CONF="$CONF"
  local name
  for name in slurmctld slurmd; do
    if pid_alive "$DIR/$name.pid"; then say "$name running (pid $(cat "$DIR/$name.pid"))"; else say "$name not running"; fi
  done
  if munge_works; then say "munged answers"; else say "munged does not answer"; fi
  if pid_alive "$DIR/slurmctld.pid"; then
    sinfo -N -o '%N %T %c %m' || true
    squeue || true
  fi
  say "SLURM_CONF=$CONF"
}

case "${1:-}" in
  install) install_packages ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: bash scripts/slurm-local.sh install|start|status|stop|env" >&2; exit 2 ;;
esac
