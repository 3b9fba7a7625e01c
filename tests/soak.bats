#!/usr/bin/env bats
# soak.bats - SPEC section 6 under load: 100k tasks through 4 workers that
# crash every few hundred tasks.  Exactly-once output in input order, no
# zombies piling up and no descriptors leaking across hundreds of restarts.

bats_require_minimum_version 1.5.0

load test_helper
load helpers/faults

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

teardown() {
	if [[ -n ${SPID:-} ]] && kill -0 "$SPID" 2>/dev/null; then
		kill -KILL "$SPID" 2>/dev/null || true
	fi
}

# zombies PID : how many children of PID are zombies.
zombies() {
	ps -o stat= --ppid "$1" 2>/dev/null | grep -c '^Z' || true
}

# fds PID : how many descriptors PID has open.
fds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

@test "soak: 100k tasks, 4 workers crashing every few hundred tasks, -k: exactly once, in order, no zombies, no fd leak" {
	local n=100000
	seq_tasks "$n" >tasks.ndjson
	# crashy.sh answers 100..299 tasks (picked from its pid), then exits 3.
	CRASHY_LOG=$PWD/pids "$SPOOL" run -k -j 4 -c "$FAULTS/crashy.sh 100 200" \
		tasks.ndjson >out 2>err 3>&- &
	SPID=$!

	# Sample while it runs: descriptors and zombie children of spool,
	# early (first 30k results) and late (after 60k), the busiest
	# moment of each.  Workers spend much of their time in restart
	# backoff, so sample often.
	local done_n fd z kids fds_early=0 fds_late=0 zmax=0 kids_max=0 samples=0
	while kill -0 "$SPID" 2>/dev/null; do
		done_n=$(nlines out)
		fd=$(fds "$SPID")
		z=$(zombies "$SPID")
		kids=$(ps -o pid= --ppid "$SPID" 2>/dev/null | wc -l)
		((fd == 0)) && break # it has just exited
		samples=$((samples + 1))
		((z > zmax)) && zmax=$z
		((kids > kids_max)) && kids_max=$kids
		if ((done_n < 30000)); then
			((fd > fds_early)) && fds_early=$fd
		elif ((done_n > 60000)); then
			((fd > fds_late)) && fds_late=$fd
		fi
		sleep 0.05 # a sampling period, not a synchronisation
	done
	echo "$samples samples: fds early max $fds_early, late max $fds_late;" \
		"at most $zmax zombies and $kids_max children at once" >&2

	local status=0
	wait "$SPID" || status=$?
	echo "spool exited $status; $(grep -c 'exited with status 3' err) crashes logged" >&2
	grep -v 'exited with status 3$' err >&2 || true
	[ "$status" -eq 0 ]
	# Exactly once, in input order.
	cmp out tasks.ndjson
	# Hundreds of restarts happened, each logged as a death of status 3,
	# and spool said nothing else.
	(($(nlines pids) >= 250))
	(($(grep -c '^spool: worker crashy\.sh#[0-3] (pid [0-9]*) exited with status 3$' err) >= 249))
	[ "$(grep -vc 'exited with status 3$' err)" -eq 0 ]
	# At most one unreaped child per worker at any sample: they never
	# pile up.
	((zmax <= 4))
	# Descriptors: spool's own, three per worker and a spawn's pipes at
	# most; the count after hundreds of restarts is no higher than early.
	((samples >= 20 && kids_max >= 1))
	((fds_early > 0 && fds_late > 0))
	((fds_late <= fds_early + 8))
	((fds_late <= 40))
	# Every worker process is gone.
	none_alive pids
}

@test "soak at -j 256: 100k tasks, 256 workers crashing every few hundred tasks, -k: exactly once, in order, nothing left" {
	local n=100000
	seq_tasks "$n" >tasks.ndjson
	CRASHY_LOG=$PWD/pids "$SPOOL" run -k -j 256 -c "$FAULTS/crashy.sh 100 200" \
		tasks.ndjson >out 2>err 3>&- &
	SPID=$!
	local z zmax=0
	while kill -0 "$SPID" 2>/dev/null; do
		z=$(zombies "$SPID")
		((z > zmax)) && zmax=$z
		sleep 0.1 # a sampling period, not a synchronisation
	done
	local status=0
	wait "$SPID" || status=$?
	echo "spool exited $status; $(nlines pids) workers started; at most $zmax zombies" >&2
	grep -v 'exited with status 3$' err >&2 || true
	[ "$status" -eq 0 ]
	cmp out tasks.ndjson
	(($(nlines pids) >= 256 + 250))
	[ "$(grep -vc 'exited with status 3$' err)" -eq 0 ]
	((zmax <= 256))
	none_alive pids
}

@test "at -j 256, SIGTERM drains: what was read is finished or recorded, and no worker is left" {
	mkfifo in
	seq_tasks 3000 >first.ndjson
	"$SPOOL" run -j 256 -c 'echo $$ >>'"$PWD"'/pids; exec cat' --failed failed \
		<in >out 2>err 3>&- &
	SPID=$!
	exec 7>in
	cat first.ndjson >&7
	wait_for 30 file_has_lines out 3000
	wait_for 30 file_has_lines pids 256
	kill -TERM "$SPID"
	local status=0
	wait "$SPID" || status=$?
	exec 7>&-
	[ "$status" -eq 143 ]
	same_set out first.ndjson
	[ ! -s failed ]
	grep -q 'interrupted by SIGTERM: 3000 tasks finished, 0 not started' err
	wait_for 10 none_alive pids
}
