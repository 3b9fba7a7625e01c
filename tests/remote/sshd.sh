#!/bin/bash
# sshd.sh start|stop DIR - a private sshd on 127.0.0.1 for the remote tests.
#
#   start: host and client keys, a test user whose login shell is /bin/sh
#          (created when missing), sshd on a free port of 127.0.0.1 with
#          key-only login, and DIR/ssh_config with the aliases host1..host4
#          (all this sshd) and deadhost (a closed port).  DIR/env, to source,
#          sets SSH_CONFIG, SPOOL_SSH (the ssh command to use), SSH_TEST_USER,
#          SSH_TEST_PORT and SSHD_PID.
#   stop:  kills whatever still runs as the test user (and says so: those are
#          leaked remote workers), stops exactly the sshd that start recorded
#          and its open sessions, removes the user if start created it, and
#          removes what start made in DIR.
# Both are idempotent.  The user is SPOOL_SSH_USER (default spooltest): runs
# at the same time on one machine need different users, as stop kills every
# process of its user.  Nothing here touches the system sshd or its config.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
action=$1
case $2 in
/*) dir=$2 ;;
*) dir=$PWD/$2 ;;
esac
# The path goes unquoted into sshd_config, ssh_config and SPOOL_SSH, where
# blanks split words and % starts a token.
case $dir in
*[[:space:]%\"\']*)
	echo "sshd.sh: DIR must not contain blanks, quotes or %: $dir" >&2
	exit 2
	;;
esac
test_user=${SPOOL_SSH_USER:-spooltest}

say() { echo "sshd.sh: $*"; }

# pid_is PID TEXT: PID is alive and its command line contains TEXT, so a
# recycled pid is never killed by mistake.
pid_is() {
	[ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" |
		grep -qF -- "$2"
}

# alive PID...: one of them exists and is not a zombie.
alive() {
	ps -o stat= -p "$(echo "$@" | tr ' ' ,)" 2>/dev/null | grep -qv '^Z'
}

# The processes of the test user that are not zombies.
user_procs() {
	{ ps -o pid=,stat= -u "$1" 2>/dev/null || true; } |
		awk '$2 !~ /^Z/ { print $1 }'
}

stop() {
	local user pid p left sessions=()
	user=$(cat "$dir/user" 2>/dev/null || true)
	if [ -n "$user" ] && id "$user" >/dev/null 2>&1; then
		left=$(user_procs "$user")
		for p in $left; do
			say "leftover process of $user: $p" \
				"$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
					cut -c1-100)"
			kill -KILL "$p" 2>/dev/null || true
		done
		# userdel refuses a user with processes, zombies included,
		# and a slow init may take a while to reap them.
		for _ in $(seq 200); do
			[ -z "$(ps -o pid= -u "$user")" ] && break
			sleep 0.05
		done
	fi
	if [ -f "$dir/sshd.pid" ]; then
		pid=$(cat "$dir/sshd.pid")
		if pid_is "$pid" "$dir/sshd_config"; then
			# Sessions are children of the listener; once it is
			# gone they would live on, so take them down with it.
			mapfile -t sessions < <(pgrep -P "$pid" || true)
			kill -TERM "$pid" "${sessions[@]}" 2>/dev/null || true
			for _ in $(seq 100); do
				alive "$pid" "${sessions[@]}" || break
				sleep 0.05
			done
			if alive "$pid" "${sessions[@]}"; then
				kill -KILL "$pid" "${sessions[@]}" 2>/dev/null || true
			fi
			say "stopped sshd pid $pid"
		fi
	fi
	if [ -f "$dir/created_user" ] && [ -n "$user" ]; then
		userdel -r "$user" 2>/dev/null || userdel "$user" ||
			say "could not remove user $user"
	fi
	# /run/sshd is the privilege separation directory of every sshd here:
	# remove it only if we made it and no other sshd runs.
	if [ -f "$dir/created_run_sshd" ] &&
		! alive "$(pgrep -d ' ' -x sshd || echo 0)"; then
		rmdir /run/sshd 2>/dev/null || true
	fi
	rm -f "$dir"/{sshd.pid,sshd_config,sshd.log,host_ed25519,host_ed25519.pub} \
		"$dir"/{id_ed25519,id_ed25519.pub,authorized_keys,known_hosts} \
		"$dir"/{ssh_config,env,user,created_user,created_run_sshd}
	rmdir "$dir" 2>/dev/null || true
}

# port_closed PORT: nothing accepts connections on 127.0.0.1:PORT.
port_closed() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if port_closed "$p"; then
			echo "$p"
			return 0
		fi
	done
	say "no free port found on 127.0.0.1" >&2
	return 1
}

write_configs() { # PORT DEADPORT
	# sshd wants the command's real path, root's all the way up.
	local cat=/usr/bin/cat
	[ -x $cat ] || cat=/bin/cat
	cat >"$dir/sshd_config" <<-CONF
		ListenAddress 127.0.0.1
		Port $1
		HostKey $dir/host_ed25519
		PidFile $dir/sshd.pid
		# The key comes from DIR through a root command, so DIR and
		# its parents need not be readable by the test user.
		AuthorizedKeysFile none
		AuthorizedKeysCommand $cat $dir/authorized_keys
		AuthorizedKeysCommandUser root
		AllowUsers $test_user
		PermitRootLogin no
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		PrintMotd no
		PrintLastLog no
		X11Forwarding no
		# Many workers per host, and a multiplexed master, at once.
		MaxSessions 256
		MaxStartups 256:30:512
		# Notice a client that vanished without closing the connection.
		ClientAliveInterval 5
		ClientAliveCountMax 2
		LogLevel VERBOSE
	CONF
	local common="  User $test_user
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR"
	cat >"$dir/ssh_config" <<-CONF
		# Four names for one sshd, to stand for four machines.
		Host host1 host2 host3 host4
		  HostName 127.0.0.1
		  Port $1
		$common
		# Nothing listens here: connecting fails at once.
		Host deadhost
		  HostName 127.0.0.1
		  Port $2
		$common
	CONF
	echo "[127.0.0.1]:$1 $(cat "$dir/host_ed25519.pub")" >"$dir/known_hosts"
}

write_env() { # PORT PID
	cat >"$dir/env" <<-ENV
		SSH_CONFIG=$dir/ssh_config
		SPOOL_SSH='ssh -F $dir/ssh_config'
		SSH_TEST_USER=$test_user
		SSH_TEST_PORT=$1
		SSHD_PID=$2
		export SSH_CONFIG SPOOL_SSH SSH_TEST_USER SSH_TEST_PORT SSHD_PID
	ENV
}

start() {
	if [ "$(id -u)" != 0 ]; then
		say "must run as root (sshd switches to the test user)" >&2
		exit 1
	fi
	sh "$here/../deps.sh" remote-ssh >&2
	if [ -f "$dir/sshd.pid" ] &&
		pid_is "$(cat "$dir/sshd.pid")" "$dir/sshd_config"; then
		say "already running: pid $(cat "$dir/sshd.pid")"
		return 0
	fi
	stop >/dev/null # what a crashed run left
	local t0 port dead pid ok
	t0=$(date +%s.%N)
	mkdir -p "$dir"
	chmod 700 "$dir"
	echo "$test_user" >"$dir/user"
	if ! id "$test_user" >/dev/null 2>&1; then
		# A '*' password, not useradd's locked '!': without PAM,
		# sshd refuses even key logins to a locked account.
		useradd -m -s /bin/sh -p '*' "$test_user"
		touch "$dir/created_user"
	fi
	if [ ! -d /run/sshd ]; then
		mkdir -m 755 /run/sshd
		touch "$dir/created_run_sshd"
	fi
	ssh-keygen -q -t ed25519 -N '' -C spool-test-host -f "$dir/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C spool-test-client -f "$dir/id_ed25519"
	cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
	dead=$(free_port)
	# Another program may take the port between the probe and the bind:
	# then sshd logs that it cannot bind and exits, and we try another.
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		[ "$port" = "$dead" ] && continue
		write_configs "$port" "$dead"
		/usr/sbin/sshd -t -f "$dir/sshd_config"
		: >"$dir/sshd.log"
		/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" \
			</dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
		ok=
		for _ in $(seq 250); do
			if grep -q "Cannot bind" "$dir/sshd.log"; then
				ok=bind
				break
			fi
			if ssh -F "$dir/ssh_config" host1 true 2>/dev/null; then
				ok=yes
				break
			fi
			sleep 0.02
		done
		[ "$ok" = bind ] && continue
		break
	done
	if [ "$ok" != yes ]; then
		say "sshd did not accept a login; see $dir/sshd.log:" >&2
		tail -5 "$dir/sshd.log" >&2
		ssh -F "$dir/ssh_config" host1 true >&2 || true
		exit 1
	fi
	pid=$(cat "$dir/sshd.pid")
	write_env "$port" "$pid"
	say "sshd pid $pid on 127.0.0.1:$port ready in" \
		"$(awk -v a="$t0" -v b="$(date +%s.%N)" \
			'BEGIN { printf "%.2f", b - a }') s (user $test_user)"
}

case $action in
start) start ;;
stop) stop ;;
*) usage ;;
esac
