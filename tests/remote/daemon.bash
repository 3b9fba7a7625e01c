# daemon.bash - a remote suite's daemon for a bats file: tests/remote/
# sshd.sh or slurm.sh, started into a directory by setup_file and stopped
# by teardown_file (the script's stop kills it by its recorded pids), also
# when tests failed.

# daemon_start NAME DIR WHY : NAME.sh start DIR, its last line on fd 3.
# Not root: every test of the file is skipped, saying WHY root is needed.
daemon_start() {
	if [[ $(id -u) != 0 ]]; then
		skip "needs root: $3"
	fi
	local out
	out=$("$TESTS_DIR/remote/$1.sh" start "$2" 3>&-) || {
		echo "$out" >&2
		return 1
	}
	out=${out##*$'\n'}
	echo "# ${out#*.sh: }" >&3
}

# daemon_stop NAME DIR : NAME.sh stop DIR, if it was started there.
daemon_stop() {
	if [[ -n $2 && -d $2 ]]; then
		"$TESTS_DIR/remote/$1.sh" stop "$2" 3>&- >&2
	fi
}
