# readme.bash - run the shell blocks of a Markdown file the way
# README.md's opening comment promises (tests/readme.bats).  Load after
# test_helper:
#   load test_helper
#   load helpers/readme
#
# A block fenced ```sh (the fence at the start of its line) is run; every
# other fenced block (```console, ```json, plain ```) is skipped.
# shellcheck disable=SC2154  # bats sets status, output...

# A block that runs longer than this has hung (they are meant to take a
# few seconds): stop it and say which one, rather than wait for bats.
README_BLOCK_LIMIT=${README_BLOCK_LIMIT:-30}

# readme_blocks FILE DIR : write the ```sh blocks of FILE to DIR/001.sh,
# DIR/002.sh... in order, each with a first line `# FILE:LINE` naming its
# opening fence; print how many there are.  A block left open is an
# error.
readme_blocks() {
	local file=$1 dir=$2
	mkdir -p "$dir" || return 1
	awk -v dir="$dir" -v name="${file##*/}" '
		function open_block() {
			n++
			out = sprintf("%s/%03d.sh", dir, n)
			printf "# %s:%d\n", name, NR > out
		}
		fence == "" && /^```/ {
			fence = "other"
			info = substr($0, 4)
			sub(/[ \t]+$/, "", info)
			if (info == "sh") {
				fence = "sh"
				open_block()
			}
			at = NR
			next
		}
		fence != "" && /^```[ \t]*$/ {
			if (fence == "sh")
				close(out)
			fence = ""
			next
		}
		fence == "sh" { print > out }
		END {
			if (fence != "") {
				printf "%s:%d: a fenced block is never closed\n", name, at > "/dev/stderr"
				exit 1
			}
			print n + 0
		}
	' "$file"
}

# readme_scratch DIR : a copy of the repository in DIR (without .git),
# with build/ standing for the build under test.
readme_scratch() {
	local dir=$1 f
	mkdir -p "$dir" || return 1
	for f in "$REPO_DIR"/* "$REPO_DIR"/.[!.]*; do
		[[ -e $f ]] || continue
		case ${f##*/} in
		.git | build) continue ;;
		esac
		cp -R "$f" "$dir/" || return 1
	done
	ln -s "$SPOOL_BUILD" "$dir/build"
}

# readme_run FILE WORKDIR : run the ```sh blocks of FILE in order, from
# WORKDIR, each in a fresh `sh -e` with the binary under test first on
# PATH and HOME a scratch directory.  Stops at the first block that fails
# or hangs, printing where it is, its text and what it wrote; returns 1.
readme_run() {
	local file=$1 work=$2
	local blocks=$BATS_TEST_TMPDIR/readme-blocks
	local home=$BATS_TEST_TMPDIR/readme-home
	local n i block where rc log
	rm -rf "$blocks"
	n=$(readme_blocks "$file" "$blocks") || return 1
	mkdir -p "$home"
	for ((i = 1; i <= n; i++)); do
		block=$(printf '%s/%03d.sh' "$blocks" "$i")
		where=$(head -n 1 "$block")
		where=${where#\# }
		log=$BATS_TEST_TMPDIR/readme-block.log
		rc=0
		(
			cd "$work" &&
				HOME=$home PATH="$(dirname "$SPOOL"):$work/build:$PATH" \
					timeout "$README_BLOCK_LIMIT" sh -e "$block"
		) >"$log" 2>&1 3>&- || rc=$?
		if ((rc != 0)); then
			if ((rc == 124)); then
				echo "$where: the block did not finish in ${README_BLOCK_LIMIT}s"
			else
				echo "$where: the block exited $rc"
			fi
			echo "--- the block:"
			tail -n +2 "$block"
			echo "--- what it wrote:"
			cat "$log"
			return 1
		fi
	done
	echo "$n blocks ran"
}
