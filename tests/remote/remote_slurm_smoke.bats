#!/usr/bin/env bats
# remote_slurm_smoke.bats - the one-node Slurm of tests/remote/slurm.sh
# works: a job step asking for a GPU gets CUDA_VISIBLE_DEVICES, stdin and
# stdout pass through srun, and the exit code comes back (SPEC section 10).

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
}

@test "srun --gres=gpu:1 sets CUDA_VISIBLE_DEVICES" {
	run -0 --separate-stderr timeout 30 srun -N1 -n1 --gres=gpu:1 env
	[[ $output =~ (^|$'\n')CUDA_VISIBLE_DEVICES=[01]($'\n'|$) ]]
	# Without a GPU request no GPU is handed out.
	run -0 --separate-stderr timeout 30 srun -N1 -n1 env
	[[ $output != *CUDA_VISIBLE_DEVICES=* ]]
}

@test "stdin and stdout pass through srun; the exit code comes back" {
	printf 'a\nb\n' >in
	run -0 timeout 30 srun -N1 -n1 -Q cat <in
	assert_output $'a\nb'
	run -3 timeout 30 srun -N1 -n1 -Q sh -c 'exit 3'
}
