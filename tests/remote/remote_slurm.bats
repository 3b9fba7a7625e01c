#!/usr/bin/env bats
# remote_slurm.bats - SPEC section 10: workers as Slurm job steps, on the
# one-node Slurm of tests/remote/slurm.sh (two fake GPUs).  spool requests
# an allocation for the run and releases it, or runs inside the one it is
# started in; nothing outlives it.  Slurm's state is read with squeue,
# waiting on conditions with deadlines.

bats_require_minimum_version 1.5.0
load ../test_helper
load daemon

setup_file() {
	export SLURM_DIR=$BATS_FILE_TMPDIR/slurm
	daemon_start slurm "$SLURM_DIR" "slurmd starts steps as their user"
}

teardown_file() {
	daemon_stop slurm "${SLURM_DIR:-}"
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	# shellcheck source=/dev/null
	. "$SLURM_DIR/env"
	unset SLURM_JOB_ID
	BG=()
}

teardown() {
	local p
	exec 7>&- 2>/dev/null || true
	for p in "${BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	# What a failed test left in the cluster.
	scancel --quiet --partition=debug 2>/dev/null || true
	wait_for 20 no_jobs || true
}

spool_t() {
	timeout -k 2 "${SPOOL_T:-60}" "$SPOOL" "$@"
}

no_jobs() { [[ -z $(squeue -h 2>/dev/null) ]]; }
# steps_running N : at least N job steps run.
steps_running() { (($(squeue -h -s -t R 2>/dev/null | grep -c .) >= $1)); }
no_steps() { [[ -z $(squeue -h -s 2>/dev/null) ]]; }
in_err() { grep -qF -- "$1" err; }
gone() { ! pid_alive "$1"; }
# proc_running ARGS : a process runs exactly ARGS.
proc_running() { ps -eo args= | grep -qxF -- "$1"; }
proc_gone() { ! pgrep -f -- "$1" >/dev/null; }
both_sleep() { (($(pgrep -xf '(/usr)?/bin/sleep 1031' | wc -l) == 2)); }
steps2_sleep() { (($(pgrep -xf '(/usr)?/bin/sleep 1033' | wc -l) == 2)); }

start_bg() {
	rm -f in
	mkfifo in
	"$SPOOL" "$@" <in >out 2>err 3>&- &
	SPID=$!
	BG+=("$SPID")
	exec 7>in
}

# A worker that answers each task with its CUDA_VISIBLE_DEVICES and job.
GPU_WORKER='while read -r l; do printf "{\"gpu\":\"%s\",\"job\":\"%s\",\"step\":\"%s\"}\n" "$CUDA_VISIBLE_DEVICES" "$SLURM_JOB_ID" "$SLURM_STEP_ID"; done'

@test "workers run as steps of an allocation spool requests, released at the end" {
	jq -n --arg w "$GPU_WORKER" '{workers: [{name: "w", cmd: ["sh", "-c", $w],
		replicas: 2, launcher: "slurm", slurm: {time: "10"}}]}' >pool.json
	seq_tasks 200 >tasks
	start_bg run -w pool.json -v --stats=stats.json -k
	cat tasks >&7
	# The allocation is spool's, its steps are named by their workers.
	wait_for 30 steps_running 2
	run squeue -h -o '%j %t'
	assert_output 'spool R'
	run squeue -h -s -o '%j'
	assert_line 'w#0'
	assert_line 'w#1'
	exec 7>&-
	wait_for 30 gone "$SPID"
	local status=0
	wait "$SPID" || status=$?
	assert_equal "$status" 0
	assert_equal "$(wc -l <out)" 200
	# Every answer came from a step of one job.
	assert_equal "$(jq -r .job out | sort -u | wc -l)" 1
	[[ $(jq -r .job out | head -1) =~ ^[0-9]+$ ]]
	assert_equal "$(jq -r .step out | sort -u | wc -l)" 2
	run cat err
	assert_line --regexp '^spool: slurm job [0-9]+: allocated for workers\[0\] \(2 workers\); released when spool ends$'
	assert_line --regexp '^spool: slurm job [0-9]+: allocation released$'
	assert_equal "$(jq -r '.workers[].host' stats.json | sort -u | wc -l)" 1
	[[ $(jq -r '.workers[0].host' stats.json) == "slurm job "* ]]
	wait_for 20 no_jobs
}

@test "inside an allocation, spool runs its workers as steps of it" {
	jq -n --arg w "$GPU_WORKER" '{workers: [{cmd: ["sh", "-c", $w],
		replicas: 2, launcher: "slurm"}]}' >pool.json
	seq_tasks 50 >tasks
	run -0 --separate-stderr timeout 60 salloc -Q -n 2 \
		"$SPOOL" run -w pool.json -v tasks
	assert_equal "${#lines[@]}" 50
	# One job: the one salloc made, no other.
	assert_equal "$(jq -r .job <<<"$output" | sort -u | wc -l)" 1
	[[ $stderr == *"running inside it for workers[0]"* ]]
	[[ $stderr != *"requesting a Slurm allocation"* ]]
	wait_for 20 no_jobs
}

@test "\"gres\": \"gpu:1\" gives each worker its own GPU" {
	jq -n --arg w "$GPU_WORKER" '{workers: [{cmd: ["sh", "-c", $w],
		replicas: 2, launcher: "slurm", slurm: {gres: "gpu:1"}}]}' >pool.json
	# Each worker's ready line is its GPU: spool check shows both.
	jq -n '{workers: [{cmd: ["sh", "-c", "echo \"\\\"$CUDA_VISIBLE_DEVICES\\\"\"; exec cat"],
		ready: "line", replicas: 2, launcher: "slurm",
		slurm: {gres: "gpu:1", cpus_per_task: 1}}]}' >check.json
	run -0 --separate-stderr spool_t check -w check.json
	assert_line --index 0 --regexp $'^slurm job [0-9]+\tallocated in '
	assert_equal "$(grep -o $'\t"[01]"$' <<<"$output" | sort | tr -d '\t\n')" '"0""1"'
	# And while tasks run: two GPUs, one per worker.
	seq_tasks 100 >tasks
	run -0 --separate-stderr spool_t run -w pool.json tasks
	assert_equal "$(jq -r .gpu <<<"$output" | sort -u | tr '\n' ' ')" '0 1 '
	assert_equal "$(jq -r '"\(.step) \(.gpu)"' <<<"$output" | sort -u | wc -l)" 2
	# Inside an allocation of two GPUs, the same.
	run -0 --separate-stderr timeout 60 salloc -Q -n 2 --gres=gpu:2 \
		"$SPOOL" run -w pool.json tasks
	assert_equal "$(jq -r .gpu <<<"$output" | sort -u | tr '\n' ' ')" '0 1 '
	wait_for 20 no_jobs
}

@test "SIGKILL of spool: its steps and its allocation are gone within seconds" {
	# Workers that ignore EOF: only Slurm ends them.  (Each is one
	# process: with the test cluster's proctrack/linuxproc, a child whose
	# parent Slurm killed first can escape the step; proctrack/cgroup
	# does not lose it.)
	jq -n '{workers: [{cmd: ["sleep", "1031"], replicas: 2,
		launcher: "slurm"}]}' >pool.json
	start_bg run -w pool.json
	echo '{"x":1}' >&7
	wait_for 30 steps_running 2
	# slurmstepd runs a step's program by its path.
	wait_for 30 both_sleep
	kill -KILL "$SPID"
	local t0=$EPOCHREALTIME
	wait_for 15 proc_gone '^(/usr)?/bin/sleep 1031' || {
		ps -eo pid,ppid,pgid,stat,args | grep -E 'sleep 1031|srun|salloc|slurmstepd'
		squeue -a; squeue -a -s
		false
	}
	local t1=$EPOCHREALTIME
	wait_for 15 no_jobs || {
		squeue -a; squeue -a -s; pgrep -fa 'srun|salloc|slurmstepd'
		tail -20 "$SLURM_DIR/log/slurmctld.log"
		false
	}
	echo "# workers gone $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s," \
		"squeue empty $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after SIGKILL" >&3
	# No srun or salloc of it is left.
	wait_for 5 proc_gone 'srun --jobid='
	wait_for 5 proc_gone 'salloc -Q --ntasks=2'
}

@test "a timeout kills the step; its worker comes back as a new step" {
	# The slow task execs: the step is then one process (see above).
	local w='while read -r l; do case $l in *slow*) exec sleep 1032;; esac; echo "$l"; done'
	jq -n --arg w "$w" '{workers: [{cmd: ["sh", "-c", $w], replicas: 1,
		launcher: "slurm"}]}' >pool.json
	start_bg run -w pool.json -t 1 -r 0 -k -v
	printf '%s\n' '{"x":1}' '{"slow":1}' >&7
	wait_for 30 proc_running 'sleep 1032'
	wait_for 30 in_err 'timed out after 1s'
	# The step is gone (srun was signalled alone: its group holds the
	# shepherd that cancels the step), the run goes on.
	wait_for 10 proc_gone '^sleep 1032$'
	pid_alive "$SPID"
	echo '{"x":2}' >&7
	exec 7>&-
	wait_for 30 gone "$SPID"
	local status=0
	wait "$SPID" || status=$?
	assert_equal "$status" 1
	assert_equal "$(cat out)" $'{"x":1}\n{"x":2}'
	wait_for 20 no_jobs
}

@test "a second signal kills the workers at once: srun alone, so their steps end" {
	# Inside an allocation that outlives spool: only spool's own signals
	# can end the steps (a SIGKILL to srun's process group would leave
	# them running until the allocation ends).
	jq -n '{workers: [{cmd: ["sleep", "1033"], replicas: 2,
		launcher: "slurm"}]}' >pool.json
	rm -f in
	mkfifo in
	# After spool, the allocation's command holds it until the test
	# closes the fifo's last writer (salloc would wait for a command
	# that outlives the job: it signals it only with --kill-command).
	salloc -Q -n 2 sh -c '"$0" run -w pool.json <in >out 2>err; echo $? >rc; exec cat in >/dev/null' \
		"$SPOOL" 3>&- &
	local salloc=$!
	BG+=("$salloc")
	exec 7>in
	echo '{"x":1}' >&7
	wait_for 30 steps2_sleep
	local spid
	# The oldest: its guard is a copy of it, started after it.
	spid=$(pgrep -o -f "^$SPOOL run -w pool.json$")
	kill -INT "$spid"
	kill -TERM "$spid"
	wait_for 20 test -s rc || {
		cat err
		ps -eo pid,ppid,stat,args | grep -E 'spool|srun|sleep 103'
		false
	}
	assert_equal "$(cat rc)" 130
	grep -q 'second signal: killing workers' err
	# The steps are gone; the allocation is still there.
	wait_for 10 proc_gone '^(/usr)?/bin/sleep 1033$'
	wait_for 10 no_steps
	assert_equal "$(squeue -h -o %t)" R
	# Its command ends: salloc releases the allocation and exits.
	exec 7>&-
	wait_for 20 gone "$salloc"
	wait_for 20 no_jobs
}

@test "no Slurm: a clear error before any task is read, exit 3" {
	echo '{"workers": [{"cmd": ["cat"], "launcher": "slurm"}]}' >pool.json
	seq_tasks 3 >tasks
	# A PATH without Slurm's commands.
	mkdir bin
	ln -s "$(command -v cat)" bin/cat
	run -3 --separate-stderr env PATH="$PWD/bin" "$SPOOL" run -w pool.json \
		--stats=stats.json tasks
	assert_output ''
	[[ $stderr == *'pool.json: workers[0] has "launcher": "slurm", but srun is not on PATH: install Slurm'* ]]
	# A partition that is not there: salloc's own words, nothing read.
	echo '{"workers": [{"cmd": ["cat"], "launcher": "slurm",
		"slurm": {"partition": "nope"}}]}' >pool.json
	run -3 --separate-stderr spool_t run -w pool.json --stats=stats.json \
		--failed=failed tasks
	assert_output ''
	[[ $stderr == *'workers[0] in pool.json: no Slurm allocation: salloc: error: '*'nvalid partition'* ]]
	assert_equal "$(jq .tasks.read stats.json)" 0
	[[ ! -s failed ]]
	# No cluster at all (no configuration): the same.
	SLURM_CONF=/nonexistent/slurm.conf run -3 --separate-stderr \
		spool_t run -w pool.json tasks
	[[ $stderr == *'no Slurm allocation: '* ]]
}

@test "--dry-run shows the allocation and each step's srun line" {
	jq -n '{workers: [{cmd: ["python3", "w.py", "a b"], replicas: 2,
		cwd: "/srv", launcher: "slurm",
		slurm: {gres: "gpu:1", cpus_per_task: 2, partition: "debug",
			time: "1:00:00", args: ["--mem=1G"]}}]}' >pool.json
	run -0 --separate-stderr spool_t run --dry-run -w pool.json
	assert_line --index 0 $'slurm allocation for workers[0]\tsalloc -Q --ntasks=2 --cpus-per-task=2 --partition=debug --time=1:00:00 --gpus-per-task=1 --job-name=spool sh -c \'echo "$SLURM_JOB_ID"; exec cat >/dev/null\''
	assert_line $'\tlocal srun --jobid=JOBID -Q --exact -N1 -n1 --gres=gpu:1 --cpus-per-task=2 --partition=debug \'--job-name=python3#0\' --mem=1G --chdir=/srv python3 w.py \'a b\''
	assert_line $'\tlocal srun --jobid=JOBID -Q --exact -N1 -n1 --gres=gpu:1 --cpus-per-task=2 --partition=debug \'--job-name=python3#1\' --mem=1G --chdir=/srv python3 w.py \'a b\''
	# Inside an allocation: its id, and no allocation of spool's.
	SLURM_JOB_ID=77 run -0 --separate-stderr spool_t run --dry-run -w pool.json
	refute_line --partial 'slurm allocation'
	assert_line --partial $'\tlocal srun --jobid=77 '
	no_jobs
}
