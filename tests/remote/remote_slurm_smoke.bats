#!/usr/bin/env bats
# remote_slurm_smoke.bats - the one-node Slurm of tests/remote/slurm.sh
# works: a job step asking for a GPU gets CUDA_VISIBLE_DEVICES, stdin and
# stdout pass through srun, and the exit code comes back (SPEC section 10).

bats_require_minimum_version 1.5.0
load ../test_helper

setup_file() {
	if [[ $(id -u) != 0 ]]; then
		skip "needs root: slurmd starts steps as their user"
	fi
	export SLURM_DIR=$BATS_FILE_TMPDIR/slurm
	local out
	out=$("$TESTS_DIR/remote/slurm.sh" start "$SLURM_DIR" 3>&-) || {
		echo "$out" >&2
		return 1
	}
	echo "# ${out#slurm.sh: }" >&3
}

teardown_file() {
	if [[ -n ${SLURM_DIR:-} ]]; then
		"$TESTS_DIR/remote/slurm.sh" stop "$SLURM_DIR" 3>&- >&2
	fi
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
