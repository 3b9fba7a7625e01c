#!/usr/bin/env bats
# readme.bats - every ```sh block of README.md runs as written: in order,
# from a scratch copy of the repository with build/ on PATH, each exiting
# 0 (the rules are in the comment at the top of README.md).  A README
# example that stops working fails here, naming its line.
# shellcheck disable=SC2016  # the test documents' blocks expand when run

bats_require_minimum_version 1.5.0
load test_helper
load helpers/readme

README=$REPO_DIR/README.md

@test "README.md: every sh block runs and exits 0, in order, from a copy of the repository" {
	readme_scratch "$BATS_TEST_TMPDIR/repo"
	run readme_run "$README" "$BATS_TEST_TMPDIR/repo"
	assert_success
	assert_output --regexp '^[0-9]+ blocks ran$'
}

@test "README.md: its examples are sh blocks, and they call spool from PATH" {
	local n
	n=$(readme_blocks "$README" "$BATS_TEST_TMPDIR/blocks")
	# The examples, the PATH line and the first command: far more than a
	# handful.  Fewer means the fences changed and the blocks went untested.
	((n >= 10)) || fail "only $n sh blocks found in README.md"
	# One way to call the binary throughout: `spool`, with build/ on PATH.
	run grep -n 'build/spool' "$BATS_TEST_TMPDIR"/blocks/*.sh
	assert_failure
	# The first command of the README runs spool.
	run sed -n 2p "$BATS_TEST_TMPDIR/blocks/001.sh"
	assert_output --regexp '^spool run '
}

@test "README.md: the opening comment states the fencing rules" {
	run head -n 20 "$README"
	assert_output --partial 'fenced ```sh is run'
	assert_output --partial '```console'
}

# The harness itself: a block that breaks must fail the test.

write_md() {
	printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/doc.md"
}

@test "readme_run: a failing sh block fails, naming its line" {
	write_md '# doc' '' '```sh' 'true' '```' '' '```sh' 'echo about to fail' 'false' '```'
	mkdir -p "$BATS_TEST_TMPDIR/w"
	run readme_run "$BATS_TEST_TMPDIR/doc.md" "$BATS_TEST_TMPDIR/w"
	assert_failure
	assert_line 'doc.md:7: the block exited 1'
	assert_line 'about to fail'
}

@test "readme_run: a command failing in the middle of a block fails it (sh -e)" {
	write_md '```sh' 'false' 'true' '```'
	mkdir -p "$BATS_TEST_TMPDIR/w"
	run readme_run "$BATS_TEST_TMPDIR/doc.md" "$BATS_TEST_TMPDIR/w"
	assert_failure
	assert_line 'doc.md:1: the block exited 1'
}

@test "readme_run: console, json and plain blocks are not run; files carry over, variables do not" {
	write_md '```console' '$ exit 3' '```' '```json' '{"exit": 4}' '```' '```' 'exit 5' '```' \
		'```sh' 'echo kept >file' 'v=1' '```' '```sh' 'test "$(cat file)" = kept' 'test -z "${v:-}"' '```'
	mkdir -p "$BATS_TEST_TMPDIR/w"
	run readme_run "$BATS_TEST_TMPDIR/doc.md" "$BATS_TEST_TMPDIR/w"
	assert_success
	assert_output '2 blocks ran'
}

@test "readme_run: spool on PATH is the binary under test" {
	write_md '```sh' 'test "$(command -v spool)" = "$SPOOL"' '```'
	mkdir -p "$BATS_TEST_TMPDIR/w"
	run readme_run "$BATS_TEST_TMPDIR/doc.md" "$BATS_TEST_TMPDIR/w"
	assert_success
}

@test "readme_run: a block that hangs is stopped and named" {
	write_md '' '```sh' 'sleep 30' '```'
	mkdir -p "$BATS_TEST_TMPDIR/w"
	README_BLOCK_LIMIT=1 run readme_run "$BATS_TEST_TMPDIR/doc.md" "$BATS_TEST_TMPDIR/w"
	assert_failure
	assert_line 'doc.md:2: the block did not finish in 1s'
}

@test "readme_blocks: a block left open is an error" {
	write_md '```sh' 'true'
	run readme_blocks "$BATS_TEST_TMPDIR/doc.md" "$BATS_TEST_TMPDIR/b"
	assert_failure
	assert_output --partial 'doc.md:1: a fenced block is never closed'
}
