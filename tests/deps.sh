#!/bin/sh
# deps.sh - make sure the Debian packages a make target needs are here.
# As root: apt-get update once, then install what is missing.  Otherwise:
# print the exact command to run, and fail.
#   sh tests/deps.sh build [test] [demo] [bench] [fuzz] [ci] [remote]
# test also installs the npm packages of tests/fixtures/batch (npm ci, from
# its package-lock.json) when its node_modules is missing.
# remote-ssh and remote-slurm are the two halves of remote, for the scripts
# in tests/remote/ that need only one of them.
set -u
missing=""
npm_dirs=""
need() { # need PACKAGE TEST-COMMAND...
	pkg=$1; shift
	if ! "$@" >/dev/null 2>&1; then
		case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
	fi
}
for what in "$@"; do
	case $what in
	build)
		need gcc sh -c 'command -v cc || command -v gcc'
		need pkg-config command -v pkg-config
		need libcjson-dev sh -c 'pkg-config --exists libcjson || test -f /usr/include/cjson/cJSON.h'
		;;
	test)
		need bats command -v bats
		need bats-assert test -d /usr/lib/bats/bats-assert
		need bats-support test -d /usr/lib/bats/bats-support
		need jq command -v jq
		need python3 command -v python3
		need gawk command -v awk
		need procps command -v ps
		need bsdutils command -v script
		need bash-completion test -f /usr/share/bash-completion/bash_completion
		# batch.bats: a worker on a JSON-RPC library from npm.
		need nodejs command -v node
		need npm command -v npm
		npm_dirs="$npm_dirs $(dirname "$0")/fixtures/batch"
		;;
	demo)
		need python3 command -v python3
		;;
	fuzz | ci)
		need clang command -v clang
		# libFuzzer and the sanitizer runtimes for the installed clang
		# (make fuzz-run): link a do-nothing fuzzer to see.
		need libclang-rt-dev sh -c 't=$(mktemp -d) || exit 1
			printf "%s\n" "int LLVMFuzzerTestOneInput(void);" \
				"int LLVMFuzzerTestOneInput(void) { return 0; }" |
				clang -fsanitize=fuzzer,address,undefined -x c \
				-o "$t/fuzzer" -
			rc=$?; rm -rf "$t"; exit $rc'
		[ "$what" = ci ] && need valgrind command -v valgrind
		;;
	remote | remote-ssh | remote-slurm)
		# tests/remote/: a private sshd and a one-node Slurm on loopback.
		# perl-base (the remote guard) is Essential, always there.
		if [ "$what" != remote-slurm ]; then
			need openssh-server test -x /usr/sbin/sshd
			need openssh-client command -v ssh
		fi
		if [ "$what" != remote-ssh ]; then
			need munge command -v munged
			need slurmctld command -v slurmctld
			need slurmd command -v slurmd
			need slurm-client command -v srun
		fi
		;;
	bench)
		need parallel sh -c 'parallel --version | grep -q "GNU parallel"'
		need gnuplot-nox command -v gnuplot
		need time test -x /usr/bin/time
		;;
	esac
done
# npm_install : the npm packages test fixtures need, from their lock files
# (npm ci), where node_modules is not there yet.
npm_install() {
	for dir in $npm_dirs; do
		[ -d "$dir/node_modules" ] && continue
		echo "spool: installing the npm packages of $dir (npm ci)" >&2
		if ! npm ci --prefix "$dir" --no-audit --no-fund >&2; then
			echo "spool: npm ci failed; run:  npm ci --prefix $dir" >&2
			return 1
		fi
	done
}
if [ -z "$missing" ]; then
	npm_install
	exit
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "spool: installing missing packages:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	if apt-get update -qq >&2 && apt-get install -y -qq $missing >&2; then
		npm_install
		exit
	fi
	echo "spool: apt-get failed; install these packages:$missing" >&2
	exit 1
fi
echo "spool: missing packages:$missing" >&2
echo "spool: run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
exit 1
