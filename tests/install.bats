#!/usr/bin/env bats
# install.bats - make install / uninstall (PREFIX, DESTDIR) and the bash
# completion it installs.

bats_require_minimum_version 1.5.0

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# complete WORD... : the completions bash offers for the last word.
complete_words() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		_spool spool "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' _ "$REPO_DIR/cmd/spool.bash-completion" "$@"
}

@test "make install puts the binary, man pages and completion under DESTDIR/PREFIX; uninstall removes them" {
	run make -C "$REPO_DIR" --no-print-directory install \
		BUILD="$SPOOL_BUILD" PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_success
	[ -x root/opt/sp/bin/spool ]
	[ -f root/opt/sp/share/man/man1/spool.1 ]
	[ -f root/opt/sp/share/man/man5/spool-config.5 ]
	[ -f root/opt/sp/share/man/man7/spool-protocol.7 ]
	[ -f root/opt/sp/share/bash-completion/completions/spool ]
	run root/opt/sp/bin/spool --version
	assert_output --regexp '^spool [0-9]'
	run make -C "$REPO_DIR" --no-print-directory uninstall PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_success
	[ ! -e root/opt/sp/bin/spool ]
	[ ! -e root/opt/sp/share/man/man1/spool.1 ]
	[ ! -e root/opt/sp/share/bash-completion/completions/spool ]
}

@test "completion: commands, then every flag of run and check" {
	run complete_words spool ''
	assert_success
	assert_line run
	assert_line check
	assert_line help
	run complete_words spool run --
	# Every long flag of 'spool run --help' is offered.
	local flag
	for flag in $("$SPOOL" run --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		assert_line --regexp "^$flag=?\$"
	done
	run complete_words spool check --
	assert_line --regexp '^--workers=?$'
	refute_line --regexp '^--tag'
}

@test "completion: file names for -w, 'auto' for --inflight" {
	touch pool.json notes.txt
	run complete_words spool run -w ''
	assert_line pool.json
	run complete_words spool run --inflight ''
	assert_line auto
}
