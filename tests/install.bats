#!/usr/bin/env bats
# install.bats - make install / uninstall (PREFIX, DESTDIR, what a program
# needs to build on libspool and the SDKs) and the bash completion.

bats_require_minimum_version 1.5.0

load test_helper

BASH_COMPLETION=/usr/share/bash-completion/bash_completion

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

# complete LINE : what bash, with bash-completion loaded, offers at the end
# of LINE, one candidate a line.  COMP_WORDS is split as readline splits
# these lines: at blanks, with '=' (in COMP_WORDBREAKS) a word of its own.
complete_line() {
	bash --norc --noprofile -c '
		source "$1" || exit 1
		source "$2" || exit 1
		line=$3
		COMP_LINE=$line
		COMP_POINT=${#line}
		read -ra raw <<<"$line"
		COMP_WORDS=()
		for w in "${raw[@]}"; do
			while [[ $w == *=* ]]; do
				[[ -n ${w%%=*} ]] && COMP_WORDS+=("${w%%=*}")
				COMP_WORDS+=("=")
				w=${w#*=}
			done
			[[ -n $w ]] && COMP_WORDS+=("$w")
		done
		[[ $line == *[[:blank:]] ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		spec=$(complete -p spool) || exit 1
		[[ $spec =~ -F\ ([^ ]+) ]] || exit 1
		"${BASH_REMATCH[1]}" spool "${COMP_WORDS[COMP_CWORD]}" \
			"${COMP_WORDS[COMP_CWORD - 1]}"
		((${#COMPREPLY[@]})) && printf "%s\n" "${COMPREPLY[@]}"
		exit 0
	' _ "$BASH_COMPLETION" "$REPO_DIR/cmd/spool.bash-completion" "$1"
}

@test "bash-completion loads the installed completion for spool" {
	run make_install PREFIX=/opt/sp DESTDIR="$PWD/root"
	assert_success
	run env XDG_DATA_DIRS="$PWD/root/opt/sp/share" bash --norc --noprofile -c '
		source "$1" || exit 1
		__load_completion spool && complete -p spool' _ "$BASH_COMPLETION"
	assert_success
	assert_output --regexp '^complete -F [_a-z]+ spool$'
}

@test "completion: commands, and the commands help knows" {
	run complete_line 'spool '
	assert_success
	assert_output "$(printf '%s\n' run serve check help)"
	run complete_line 'spool help '
	assert_output "$(printf '%s\n' run serve check)"
	run complete_line 'spool -'
	assert_output "$(printf '%s\n' --help --version)"
}

@test "completion: every long flag a command's --help shows is offered" {
	local cmd flag n=0
	for cmd in run serve check; do
		"$SPOOL" "$cmd" --help >/dev/null 2>&1 || continue
		run complete_line "spool $cmd --"
		assert_success
		for flag in $("$SPOOL" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			assert_line --regexp "^$flag=?\$"
			n=$((n + 1))
		done
	done
	((n > 20))
}

@test "completion: each command offers its own flags and no other's" {
	local run_flags='-w --workers -c --cmd -j --jobs -p --protocol --buffered
		--batch -S --hosts --ssh --dry-run -k --keep-order -q --queue-size
		--inflight --order-buffer -r --retries -t --timeout --failed --tag
		--raw --strict --joblog --resume --progress --no-progress --stats
		--stats= -v --verbose --quiet -h --help'
	local serve_flags='-w --workers -c --cmd -j --jobs -p --protocol
		--buffered --batch -S --hosts --ssh -q --queue-size --inflight
		-r --retries -t --timeout --listen --stats --stats= --dry-run
		-v --verbose --quiet -h --help'
	local check_flags='-w --workers -c --cmd -j --jobs -p --protocol
		--buffered --batch -S --hosts --ssh -v --verbose --quiet -h --help'
	local cmd flags
	for cmd in run serve check; do
		flags=${cmd}_flags
		run complete_line "spool $cmd -"
		assert_success
		assert_equal "$(LC_ALL=C sort <<<"$output")" \
			"$(printf '%s\n' ${!flags} | LC_ALL=C sort)"
	done
	run complete_line 'spool check -'
	refute_line --partial -- --tag
}

@test "completion: -c offers a command name once, for its first word only" {
	# The same command in two PATH directories, as /bin and /usr/bin are
	# on a merged-/usr system.
	mkdir -p d1 d2
	printf '#!/bin/sh\n' >d1/spooltestcmd
	cp d1/spooltestcmd d2/
	chmod +x d1/spooltestcmd d2/spooltestcmd
	PATH=$PWD/d1:$PWD/d2:$PATH run complete_line 'spool run -c spooltestc'
	assert_success
	assert_output spooltestcmd
	run complete_line 'spool run -c jq'
	assert_success
	[ "$(grep -cx jq <<<"$output")" -eq 1 ]
	PATH=$PWD/d1:$PATH run complete_line 'spool check --cmd=spooltestc'
	assert_output spooltestcmd
	# A quoted command line: its first word, and nothing after it.
	PATH=$PWD/d1:$PATH run complete_line "spool run -c 'spooltestc"
	assert_output spooltestcmd
	PATH=$PWD/d1:$PATH run complete_line "spool run -c 'spooltestcmd spooltestc"
	assert_output ''
}

@test "completion: --stats= and --failed offer files, hidden ones only when asked" {
	touch .hidden out.json notes.txt
	mkdir sub
	run complete_line 'spool run --stats='
	assert_success
	assert_line out.json
	assert_line notes.txt
	assert_line sub
	refute_line .hidden
	run complete_line 'spool run --stats=o'
	assert_output out.json
	run complete_line 'spool run --stats=.h'
	assert_output .hidden
	run complete_line 'spool run --failed '
	assert_line notes.txt
	refute_line .hidden
	# Plain --stats takes no FILE: the next word is an input.
	run complete_line 'spool run --stats '
	assert_line notes.txt
	# An option's value is never "--" the end of options.
	run complete_line 'spool run -c -- --'
	assert_line --partial -- --workers
}

@test "completion: -w offers pool configs, -p the protocols, --inflight auto" {
	touch pool.json notes.txt .hidden.json
	run complete_line 'spool run -w '
	assert_output pool.json
	run complete_line 'spool check --workers='
	assert_output pool.json
	run complete_line 'spool run -p '
	assert_output "$(printf '%s\n' lines spool)"
	run complete_line 'spool serve --protocol=s'
	assert_output spool
	run complete_line 'spool run --inflight '
	assert_output auto
	run complete_line 'spool run --inflight='
	assert_output auto
	run complete_line 'spool run -j '
	assert_output ''
}

@test "completion: serve's --listen offers files; serve and check take no input FILE" {
	touch notes.txt
	run complete_line 'spool serve --listen '
	assert_output notes.txt
	run complete_line 'spool serve '
	refute_line notes.txt
	assert_line --listen
	run complete_line 'spool check -w pool.json '
	refute_line notes.txt
	run complete_line 'spool run -w pool.json '
	assert_line notes.txt
	# After "--" only files.
	run complete_line 'spool run -- -'
	assert_output ''
}

@test "completion: -S offers known ssh hosts in a list, with slots and user" {
	mkdir .ssh
	printf 'Host gpubox\n' >.ssh/config
	HOME=$PWD run complete_line 'spool run -S gpu'
	assert_line gpubox
	HOME=$PWD run complete_line 'spool run -S 4/gpu'
	assert_line 4/gpubox
	HOME=$PWD run complete_line 'spool check --hosts=a,alice@gpu'
	assert_line a,alice@gpubox
}
