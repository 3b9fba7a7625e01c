#!/bin/bash
# slurm.sh start|stop DIR - a real one-node Slurm for the remote tests.
#
#   start: Debian's munge, slurmctld and slurmd, without systemd or cgroups,
#          with a private munge key and socket and private ports, so any
#          system Slurm or munge is left alone.  The node "localhost" has
#          every CPU of this machine and two fake GPUs declared as GRES, and
#          its partition lets several one-CPU steps share a CPU
#          (OverSubscribe), so a small machine runs many workers.  Returns
#          once the node is idle.  DIR/env, to source, sets SLURM_CONF.
#   stop:  cancels this cluster's jobs, stops exactly the daemons start
#          recorded (by their pid files), removes what start made in DIR.
# Both are idempotent.  Run as root: slurmd starts steps as their user.
# See /work/shared/REMOTE.md for how srun behaves (signals, GRES).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
action=$1
case $2 in
/*) dir=$2 ;;
*) dir=$PWD/$2 ;;
esac
# slurm.conf and gres.conf take the path unquoted.
case $dir in
*[[:space:]\"\'#=]*)
	echo "slurm.sh: DIR must not contain blanks, quotes, # or =: $dir" >&2
	exit 2
	;;
esac
conf=$dir/slurm.conf
gpus=2

say() { echo "slurm.sh: $*"; }

# pid_is PID TEXT: PID is alive and its command line contains TEXT, so a
# recycled pid is never killed by mistake.
pid_is() {
	[ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" |
		grep -qF -- "$2"
}

stop_pidfile() { # PIDFILE TEXT
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if pid_is "$pid" "$2"; then
		kill -TERM "$pid"
		for _ in $(seq 100); do
			pid_is "$pid" "$2" || break
			sleep 0.05
		done
		if pid_is "$pid" "$2"; then
			kill -KILL "$pid"
		fi
		say "stopped $(basename "$1" .pid) pid $pid"
	fi
	rm -f "$1"
}

# holds_log PID: PID has a file of this cluster's log directory open.
holds_log() {
	local f
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		"$dir"/log/*) return 0 ;;
		esac
	done
	return 1
}

stop() {
	local p sock_dir
	if [ -f "$conf" ] && [ -f "$dir/slurmctld.pid" ] &&
		pid_is "$(cat "$dir/slurmctld.pid")" "$conf"; then
		export SLURM_CONF=$conf
		scancel --quiet --partition=debug 2>/dev/null || true
		for _ in $(seq 100); do
			[ -z "$(squeue -h 2>/dev/null)" ] && break
			sleep 0.05
		done
	fi
	# Step daemons of this cluster have its log open; normally they are
	# gone with their jobs.
	for p in $(pgrep -x slurmstepd || true); do
		if holds_log "$p"; then
			kill -KILL "$p" 2>/dev/null &&
				say "killed leftover slurmstepd $p"
		fi
	done
	stop_pidfile "$dir/slurmd.pid" "slurmd -f $conf"
	stop_pidfile "$dir/slurmctld.pid" "slurmctld -f $conf"
	sock_dir=$(cat "$dir/munge.dir" 2>/dev/null || true)
	if [ -n "$sock_dir" ]; then
		stop_pidfile "$dir/munged.pid" "munged --socket=$sock_dir/socket"
		rm -f "$sock_dir"/socket{,.lock}
		rmdir "$sock_dir" 2>/dev/null || true
	fi
	rm -rf "${dir:?}"/{state,spool,log,dev}
	rm -f "$dir"/{slurm.conf,gres.conf,env,munge.key,munge.dir,munged.seed}
	rmdir "$dir" 2>/dev/null || true
}

# port_closed PORT: nothing accepts connections on 127.0.0.1:PORT.
port_closed() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() { # NOT-THIS-ONE
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if [ "$p" != "${1:-}" ] && port_closed "$p"; then
			echo "$p"
			return 0
		fi
	done
	say "no free port found on 127.0.0.1" >&2
	return 1
}

# Daemons must not keep the caller's descriptors: bats waits for its fd 3
# to close, and a pipe held open keeps a reader waiting.
detached() {
	"$@" </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
}

start() {
	if [ "$(id -u)" != 0 ]; then
		say "must run as root (slurmd starts steps as their user)" >&2
		exit 1
	fi
	sh "$here/../deps.sh" remote-slurm >&2
	if [ -f "$dir/slurmctld.pid" ] &&
		pid_is "$(cat "$dir/slurmctld.pid")" "$conf"; then
		say "already running: slurmctld pid $(cat "$dir/slurmctld.pid")"
		return 0
	fi
	stop >/dev/null # what a crashed run left
	local t0 cport dport cpus st sock_dir
	t0=$(date +%s.%N)
	cpus=$(nproc)
	cport=$(free_port)
	dport=$(free_port "$cport")
	mkdir -p "$dir"/{state,spool,log,dev}
	# munged wants every directory above its socket searchable by all,
	# which a test's private DIR is not: the socket gets one of its own.
	sock_dir=$(mktemp -d /tmp/spool-munge.XXXXXX)
	chmod 755 "$sock_dir"
	echo "$sock_dir" >"$dir/munge.dir"
	mungekey -c -f -k "$dir/munge.key"
	chmod 400 "$dir/munge.key"
	if ! detached munged --socket="$sock_dir/socket" \
		--key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
		--log-file="$dir/log/munged.log" --seed-file="$dir/munged.seed"; then
		say "munged did not start; see $dir/log/munged.log:" >&2
		tail -3 "$dir/log/munged.log" >&2
		exit 1
	fi
	# Fake GPUs: character devices with /dev/null's numbers, which Slurm
	# counts and hands out by index like real ones.
	for i in $(seq 0 $((gpus - 1))); do
		mknod "$dir/dev/fakegpu$i" c 1 3
	done
	cat >"$dir/gres.conf" <<-CONF
		AutoDetect=off
		NodeName=localhost Name=gpu File=$dir/dev/fakegpu[0-$((gpus - 1))]
	CONF
	cat >"$conf" <<-CONF
		ClusterName=spooltest
		SlurmctldHost=localhost(127.0.0.1)
		SlurmctldPort=$cport
		SlurmdPort=$dport
		SlurmUser=root
		SlurmdUser=root
		AuthType=auth/munge
		CredType=cred/munge
		AuthInfo=socket=$sock_dir/socket
		StateSaveLocation=$dir/state
		SlurmdSpoolDir=$dir/spool
		SlurmctldPidFile=$dir/slurmctld.pid
		SlurmdPidFile=$dir/slurmd.pid
		SlurmctldLogFile=$dir/log/slurmctld.log
		SlurmdLogFile=$dir/log/slurmd.log
		# No cgroups: works without systemd or a delegated cgroup tree.
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		JobAcctGatherType=jobacct_gather/none
		AccountingStorageType=accounting_storage/none
		JobCompType=jobcomp/none
		MpiDefault=none
		SwitchType=switch/none
		SchedulerType=sched/backfill
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core
		ReturnToService=2
		KillWait=2
		GresTypes=gpu
		NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Gres=gpu:$gpus State=UNKNOWN
		# FORCE:4 lets four one-CPU steps share each CPU.
		PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
	CONF
	export SLURM_CONF=$conf
	# Both daemonize once they are set up and write their pid files.
	if ! detached slurmctld -f "$conf"; then
		say "slurmctld did not start; see $dir/log/slurmctld.log:" >&2
		tail -3 "$dir/log/slurmctld.log" >&2
		exit 1
	fi
	if ! detached slurmd -f "$conf" -N localhost; then
		say "slurmd did not start; see $dir/log/slurmd.log:" >&2
		tail -3 "$dir/log/slurmd.log" >&2
		exit 1
	fi
	st=
	for _ in $(seq 600); do
		st=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
		[ "$st" = idle ] && break
		sleep 0.05
	done
	if [ "$st" != idle ]; then
		say "the node did not become idle (state '$st'); see $dir/log/" >&2
		tail -3 "$dir"/log/*.log >&2
		exit 1
	fi
	cat >"$dir/env" <<-ENV
		SLURM_CONF=$conf
		export SLURM_CONF
	ENV
	say "slurm up in $(awk -v a="$t0" -v b="$(date +%s.%N)" \
		'BEGIN { printf "%.2f", b - a }') s: munged $(cat "$dir/munged.pid")," \
		"slurmctld $(cat "$dir/slurmctld.pid"), slurmd $(cat "$dir/slurmd.pid")," \
		"ports $cport/$dport, $cpus CPUs, $gpus GPUs"
}

case $action in
start) start ;;
stop) stop ;;
*) usage ;;
esac
