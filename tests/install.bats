#!/usr/bin/env bats
# install.bats - make install / uninstall (PREFIX, DESTDIR, what a program
# needs to build on libspool and the SDKs) and the bash completion.

bats_require_minimum_version 1.5.0

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# make_install [VAR=VALUE...] : make install from the build under test.
make_install() {
	make -C "$REPO_DIR" --no-print-directory install BUILD="$SPOOL_BUILD" "$@"
}

make_uninstall() {
	make -C "$REPO_DIR" --no-print-directory uninstall BUILD="$SPOOL_BUILD" "$@"
}

# The python3 that make install asks where modules go.
system_python3() {
	if [[ -x /usr/bin/python3 ]]; then
		echo /usr/bin/python3
	else
		command -v python3
	fi
}

# The Python modules make install copies: the SDKs, not their tests.
sdk_modules() {
	local f
	for f in "$REPO_DIR"/workers/python/spool_*.py; do
		[[ ${f##*/} == *test* ]] || echo "${f##*/}"
	done
}

@test "make install puts every file under DESTDIR/PREFIX, and nothing else" {
	run make_install PREFIX=/opt/sp DESTDIR="$PWD/root" PYTHONDIR=/opt/sp/py
	assert_success
	local want=(
		/opt/sp/bin/spool
		/opt/sp/include/spool.h
		/opt/sp/include/spool_worker.h
		/opt/sp/lib/libspool.a
		/opt/sp/lib/pkgconfig/spool.pc
		/opt/sp/share/bash-completion/completions/spool
		/opt/sp/share/man/man1/spool.1
		/opt/sp/share/man/man5/spool-config.5
		/opt/sp/share/man/man7/spool-protocol.7
	)
	[[ -f $REPO_DIR/lib/spool_client.h ]] && want+=(/opt/sp/include/spool_client.h)
	local m
	for m in $(sdk_modules); do
		want+=("/opt/sp/py/$m")
	done
	[[ " ${want[*]} " == *" /opt/sp/py/spool_worker.py "* ]]
	run bash -c 'cd root && find . ! -type d | sed "s/^\.//" | LC_ALL=C sort'
	assert_output "$(printf '%s\n' "${want[@]}" | LC_ALL=C sort)"
	[ -x root/opt/sp/bin/spool ]
	cmp root/opt/sp/include/spool.h "$REPO_DIR/lib/spool.h"
	cmp root/opt/sp/include/spool_worker.h "$REPO_DIR/workers/c/spool_worker.h"
	cmp root/opt/sp/lib/libspool.a "$SPOOL_BUILD/libspool.a"
	run root/opt/sp/bin/spool --version
	assert_output --regexp '^spool [0-9]'
}

@test "make uninstall removes every file install put, byte code included" {
	run make_install PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_success
	# As a python3 importing the installed module would leave it.
	local dir
	dir=$(dirname "$(find root -name spool_worker.py)")
	env -u PYTHONDONTWRITEBYTECODE PYTHONPATH="$dir" \
		"$(system_python3)" -c 'import spool_worker'
	[ -n "$(find root -name 'spool_worker*.pyc')" ]
	run make_uninstall PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_success
	run find root ! -type d
	assert_success
	assert_output ''
}

@test "a C program builds on the installed libspool with pkg-config --cflags --libs alone" {
	run make_install PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_success
	cat >prog.c <<-'EOF'
		#include <spool.h>
		#include <stdio.h>

		int main(void)
		{
			struct spool_opts o;
			spool_opts_init(&o);
			printf("%s retries=%ld\n", SPOOL_VERSION, o.retries);
			return 0;
		}
	EOF
	export PKG_CONFIG_PATH=$PWD/root/opt/sp/lib/pkgconfig
	# Without relocation, the flags name the real PREFIX.
	run pkg-config --cflags --libs spool
	assert_success
	assert_output --partial '-I/opt/sp/include'
	assert_output --partial '-L/opt/sp/lib -lspool'
	run pkg-config --modversion spool
	assert_output "$("$SPOOL" --version | awk '{ print $2 }')"
	# The repository's headers must not be what the program finds.
	local flags
	flags=$(pkg-config --define-prefix --cflags --libs spool)
	[[ $flags == *"-I$PWD/root/opt/sp/include"* ]]
	# A library built with SANITIZE=1 needs its programs built so too.
	local cc=(cc -std=c11)
	nm "$SPOOL_BUILD/libspool.a" 2>/dev/null | grep -q ' U __asan_' &&
		cc+=(-fsanitize=address,undefined)
	run "${cc[@]}" -o prog prog.c $flags
	assert_success
	run ./prog
	assert_success
	assert_output --regexp '^[0-9.]+ retries=-1$'
	# The C worker SDK builds from the installed header too.
	run "${cc[@]}" -o square "$REPO_DIR/workers/c/square.c" $flags
	assert_success
	run --separate-stderr ./square <<-'EOF'
		{"jsonrpc":"2.0","id":0,"method":"spawn","params":{"gpu_ids":[0]}}
		{"jsonrpc":"2.0","id":1,"method":"execute","params":[{"x":3}]}
	EOF
	assert_success
	assert_line --index 1 --partial '"square":9'
}

@test "python3 imports spool_worker from the installed directory alone" {
	run make_install PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_success
	local dir
	dir=$(dirname "$(find root -name spool_worker.py)")
	run env PYTHONPATH="$PWD/$dir" "$(system_python3)" -c \
		'import spool_worker; print(spool_worker.__file__)'
	assert_success
	assert_output "$PWD/$dir/spool_worker.py"
}

@test "Python modules go where the system python3 looks, or the Debian place" {
	local py prefix dir
	py=$(system_python3)
	# No sys.path entry under a fresh prefix: the Debian convention.
	run make_install PREFIX=/opt/sp DESTDIR="$PWD/a"
	assert_success
	dir=$("$py" -c 'import sys; print("/opt/sp/lib/python{}.{}/dist-packages".format(*sys.version_info[:2]))')
	[ -f "a$dir/spool_worker.py" ]
	local tried=0
	for prefix in /usr /usr/local; do
		# Only where that python3 searches $prefix/lib itself.
		"$py" -E -c 'import sys
sys.exit(not any(e.startswith(sys.argv[1] + "/lib") and e.endswith("-packages") for e in sys.path))' "$prefix" ||
			continue
		tried=1
		rm -rf b
		run make_install PREFIX="$prefix" DESTDIR="$PWD/b"
		assert_success
		dir=$(dirname "$(cd b && find . -name spool_worker.py | sed 's/^\.//')")
		run "$py" -E -c 'import sys; print("\n".join(sys.path))'
		assert_line "$dir"
	done
	((tried)) || skip "$py searches neither /usr nor /usr/local"
}

@test "make install without a build says to run make first, and installs no package" {
	# Stand-ins that record any attempt to install packages (tests/deps.sh
	# runs apt-get as root when a build dependency is missing).
	mkdir bin
	local tool
	for tool in apt-get apt sudo; do
		printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$PWD/pkg.log" >"bin/$tool"
	done
	chmod +x bin/*
	PATH=$PWD/bin:$PATH run make -C "$REPO_DIR" --no-print-directory install \
		BUILD="$PWD/nobuild" PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_failure
	assert_line "spool: $PWD/nobuild/spool is missing: run 'make' first, then 'make install'"
	refute_output --partial 'packages'
	[ ! -e pkg.log ]
	# Nothing built, nothing installed.
	[ ! -e nobuild ]
	[ ! -e root ]
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
