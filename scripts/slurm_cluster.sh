#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying launcher=slurm and for tests/test_slurm.py:
#   scripts/slurm_cluster.sh up      install Debian's slurm-wlm, slurmdbd, mariadb-server and munge where missing;
#                                    start munged, MariaDB, slurmdbd, slurmctld and slurmd
#   scripts/slurm_cluster.sh down    cancel every job and stop those daemons (munged only if `up` started it);
#                                    SIGKILL what ignores SIGTERM, and exit 1 if a Slurm daemon is still left
#   scripts/slurm_cluster.sh status  exit 0 when the cluster answers and its node takes jobs
# `make slurm-up` / `make slurm-down` run it. Both are idempotent. The node gets this machine's CPUs and memory; tasks
# are confined to the CPUs and memory they were given (task/cgroup, or task/affinity where cgroups are not writable),
# as on a real cluster; sacct answers from slurmdbd, as on a real cluster. Needs root (packages, daemons). Where it cannot work it prints one line starting with `error:` and
# exits 1. docs/slurm.md says why each setting is what it is.
set -u

CONF=/etc/slurm/slurm.conf
MARK="# written by fashionlab scripts/slurm_cluster.sh"
STATE=/var/lib/fashionlab-slurm
NODE=$(hostname -s)
WAIT_S=${SLURM_UP_WAIT_S:-60}
MUNGED_OURS=$STATE/munged.started  # up started munged (none answered), so down stops it
SLURM_DAEMONS='slurmctld|slurmd|slurmstepd|slurmdbd'

die() { echo "error: slurm cluster: $*" >&2; exit 1; }
note() { echo "slurm cluster: $*"; }

answers() { timeout 5 scontrol ping 2>/dev/null | grep -q "is UP"; }
node_state() { timeout 5 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }

install_missing() {
  local missing=()
  command -v munged >/dev/null || missing+=(munge)
  for daemon in slurmctld slurmd sbatch; do command -v $daemon >/dev/null || { missing+=(slurm-wlm); break; }; done
  command -v slurmdbd >/dev/null || missing+=(slurmdbd)
  command -v mariadbd >/dev/null || missing+=(mariadb-server)
  [ ${#missing[@]} -eq 0 ] && return
  command -v apt-get >/dev/null \
    || die "${missing[*]} not installed and no apt-get here; install them with this system's package manager"
  note "installing ${missing[*]} with apt-get (a minute or two)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends "${missing[@]}"; } \
    >"$STATE/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed, see $STATE/apt.log"
}

# Tasks are confined to their CPUs and memory by cgroups (task/cgroup) where slurmd may make cgroup v1 hierarchies
# here; elsewhere (cgroup v2 without systemd's delegation, many containers) they are bound to their CPUs only.
cgroups_usable() {
  local controller probe
  for controller in cpuset memory freezer; do
    probe=/sys/fs/cgroup/$controller/fashionlab-probe-$$
    { mkdir "$probe" && rmdir "$probe"; } 2>/dev/null || return 1
  done
}

binding_said() {
  if cgroups_usable; then echo "each task is confined to its CPUs and memory (cgroup v1)."
  else echo "each task is bound to its CPUs (affinity; cgroups not writable here)."; fi
}

binding_conf() {
  if cgroups_usable; then printf 'ProctrackType=proctrack/cgroup\nTaskPlugin=task/cgroup,task/affinity\n'
  else printf 'ProctrackType=proctrack/linuxproc\nTaskPlugin=task/affinity\n'; fi
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; this machine has its own Slurm setup, use that one"
  fi
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))  # 10% left to the system
  mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" /var/log/slurm
  cat >"$CONF.new" <<EOF
$MARK: one node, this machine ($cpus CPUs, $mem_mb MB).
ClusterName=fashionlab
SlurmctldHost=$NODE(127.0.0.1)  # no name lookup needed
SlurmUser=root
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# Jobs share the node by CPUs and memory; $(binding_said)
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
$(binding_conf)
# Accounting in slurmdbd (MariaDB): sacct, which submitit polls for job states, answers as on a real cluster.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
# A requeued job (time limit with submitit, preemption, scontrol requeue) may start again after cred_expire seconds
# (Slurm's default 120).
AuthInfo=cred_expire=30
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5  # a requeued job starts seconds after it may, not a minute
KillWait=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  cat >/etc/slurm/cgroup.conf <<EOF
$MARK: read by task/cgroup and proctrack/cgroup, when slurm.conf names them
CgroupPlugin=cgroup/v1
ConstrainCores=yes
ConstrainRAMSpace=yes
EOF
  cat >/etc/slurm/slurmdbd.conf <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF
  chmod 600 /etc/slurm/slurmdbd.conf  # slurmdbd refuses a readable one
  if cmp -s "$CONF.new" "$CONF"; then rm "$CONF.new"; return 1; fi
  mv "$CONF.new" "$CONF"
}

start_munge() {
  if timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; then return; fi
  [ -s /etc/munge/munge.key ] || mungekey --create --force >/dev/null 2>&1 \
    || die "no /etc/munge/munge.key, and mungekey could not make one"
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- munged --force >/dev/null 2>&1 9>&- || die "munged did not start, see /var/log/munge/munged.log"
  touch "$MUNGED_OURS"
}

# Running, not a zombie: where PID 1 reaps no orphans (many containers) a stopped daemon stays listed as defunct.
alive() { local stat; stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $stat != Z* ]]; }
pid_alive() { [ -f "$1" ] && alive "$(cat "$1" 2>/dev/null)"; }

# The pids of this cluster's daemons still running: the Slurm ones by name (slurmstepd, one per job step, has no pid
# file; write_conf refuses a machine with its own Slurm, so every one here is this cluster's), munged by its pid file.
daemons_left() {
  ps -eo pid=,stat=,comm= | awk -v names="^($SLURM_DAEMONS)\$" '$2 !~ /^Z/ && $3 ~ names {print $1}'
  if [ -f "$MUNGED_OURS" ] && pid_alive /run/munge/munged.pid; then cat /run/munge/munged.pid; fi
}

# MariaDB for slurmdbd, on its socket only; root connects through it as the unix user root, without a password.
start_mariadb() {
  timeout 5 mariadb -e "select 1" >/dev/null 2>&1 && return
  mkdir -p /run/mysqld /var/log/mysql && chown mysql:mysql /run/mysqld /var/log/mysql
  setsid mariadbd --user=mysql --skip-networking --pid-file=/run/mysqld/mysqld.pid \
    --log-error=/var/log/mysql/error.log </dev/null >/dev/null 2>&1 9>&- &
  for _ in $(seq 30); do timeout 5 mariadb -e "select 1" >/dev/null 2>&1 && return; sleep 1; done
  die "MariaDB did not start, see /var/log/mysql/error.log"
}

start_slurmdbd() {
  pid_alive /run/slurmdbd.pid || slurmdbd >/dev/null 2>&1 9>&- \
    || die "slurmdbd did not start, see /var/log/slurm/slurmdbd.log"
  for _ in $(seq 30); do timeout 5 sacctmgr -n show cluster >/dev/null 2>&1 && return; sleep 1; done
  die "slurmdbd does not answer, see /var/log/slurm/slurmdbd.log"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "needs root to install packages and start daemons (run: sudo make slurm-up)"
  mkdir -p "$STATE"
  install_missing
  local changed=0
  write_conf && changed=1
  start_munge
  start_mariadb
  start_slurmdbd
  if pid_alive /run/slurmctld.pid && [ $changed -eq 1 ]; then  # a changed slurm.conf: restart to read it
    kill "$(cat /run/slurmctld.pid)" "$(cat /run/slurmd.pid 2>/dev/null)" 2>/dev/null
    for _ in $(seq 50); do pid_alive /run/slurmctld.pid || pid_alive /run/slurmd.pid || break; sleep 0.2; done
  fi
  pid_alive /run/slurmctld.pid || slurmctld >/dev/null 2>&1 9>&- \
    || die "slurmctld did not start, see /var/log/slurm/slurmctld.log"
  pid_alive /run/slurmd.pid || slurmd >/dev/null 2>&1 9>&- || die "slurmd did not start, see /var/log/slurm/slurmd.log"
  local state=""
  for _ in $(seq "$WAIT_S"); do
    state=$(node_state)
    case "$state" in
      idle|mixed|allocated|completing)
        note "up: node $NODE, $(nproc) CPUs, partition debug ($state), $(grep -o 'task/[a-z]*' "$CONF" | head -1);" \
          "squeue lists jobs, make slurm-down stops it"
        return 0 ;;
      down*|drain*|fail*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 ;;
    esac
    sleep 1
  done
  die "node $NODE not ready after ${WAIT_S}s (state: ${state:-no answer}), see /var/log/slurm/slurm{d,ctld}.log"
}

down() {
  [ "$(id -u)" -eq 0 ] || die "needs root to stop the daemons (run: sudo make slurm-down)"
  if answers; then
    scancel --quiet --full --partition=debug 2>/dev/null
    timeout 20 scontrol shutdown >/dev/null 2>&1
  fi
  local pidfiles=(/run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid)
  [ -f "$MUNGED_OURS" ] && pidfiles+=(/run/munge/munged.pid)
  for pidfile in "${pidfiles[@]}"; do
    if pid_alive "$pidfile"; then
      kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null
      for _ in $(seq 50); do pid_alive "$pidfile" || break; sleep 0.2; done
    fi
  done
  # slurmd and a cancelled job's slurmstepd can ignore SIGTERM: what is left after a few seconds gets SIGKILL
  local left
  for _ in $(seq 25); do left=$(daemons_left); [ -z "$left" ] && break; sleep 0.2; done
  if [ -n "$left" ]; then
    note "SIGKILL to what outlasted SIGTERM: $(ps -o comm= -p "${left//$'\n'/,}" | tr '\n' ' ')"
    kill -KILL $left 2>/dev/null
    for _ in $(seq 25); do left=$(daemons_left); [ -z "$left" ] && break; sleep 0.2; done
    [ -z "$left" ] || die "still running after SIGKILL: $(ps -o pid=,comm= -p "${left//$'\n'/,}" | tr -s '\n ' ' ')"
  fi
  rm -f "$MUNGED_OURS"
  note "down"
}

status() {
  answers || { echo "slurm cluster: not running (make slurm-up starts it)"; return 1; }
  case "$(node_state)" in
    idle|mixed|allocated|completing) note "up, node $NODE $(node_state)"; return 0 ;;
  esac
  echo "slurm cluster: controller up, node $NODE $(node_state)"; return 1
}

# One at a time: test workers (pytest-xdist) may each ask for the cluster at once. The daemons started are given
# no copy of the lock (9>&-), or they would hold it.
mkdir -p "$STATE" 2>/dev/null && exec 9>"$STATE/lock" && flock -w 900 9

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
