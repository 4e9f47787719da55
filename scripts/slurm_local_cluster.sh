#!/usr/bin/env bash
# A one-node SLURM cluster on loopback, for testing the slurm profile for real.
#
#   scripts/slurm_local_cluster.sh start   # installs slurm-wlm + munge if missing (Debian, root)
#   scripts/slurm_local_cluster.sh stop    # stops only the daemons this script started
#
# The config goes to /etc/slurm/slurm.conf because srun inside a job looks
# there (SLURM_CONF alone is not enough); there is no accounting, so Snakemake
# must use `--slurm-status-command squeue`.
set -euo pipefail

STATE=${KVROUTE_SLURM_STATE:-/tmp/kvroute-slurm}
CONF=/etc/slurm/slurm.conf

start() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
    mkdir -p "$STATE"/{spool,ctld,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
    cat > "$CONF" <<CONF
ClusterName=kvroute-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    : > "$STATE/started"
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- munged --force 2>/dev/null || munged --force
        pgrep -x munged | head -1 >> "$STATE/started"
    fi
    slurmctld -i
    sleep 1
    slurmd
    sleep 1
    cat "$STATE/slurmctld.pid" "$STATE/slurmd.pid" >> "$STATE/started"
    for _ in $(seq 60); do
        if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)'; then
            echo "slurm up: $(sinfo -h -o '%P %N %T %c CPUs')"
            return 0
        fi
        scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    echo "slurm did not come up; see $STATE/log" >&2
    return 1
}

stop() {
    [ -f "$STATE/started" ] || return 0
    while read -r pid; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done < "$STATE/started"
    rm -f "$STATE/started"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
