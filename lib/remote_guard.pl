# remote_guard.pl - the remote side of a worker that spool starts over ssh.
#
# spool sends this program inside the ssh command line, hex-encoded, so that
# nothing has to be installed on the remote host and every login shell
# parses the line the same way (lib/remote.c builds it):
#   exec perl -e 'eval pack(q{H*},q{HEX});die $@ if $@' -- \
#       [-R] [-C DIR] [-E NAME=VALUE]... -- WORKER [ARG]...
# With -R it says on stderr, in one line starting "spool-guard: started",
# once WORKER runs: spool then knows that the connection works and the
# worker exists (a worker that never gets that far is a failed spawn).
# It needs only perl-base (strict, warnings, POSIX), which Debian and Ubuntu
# always have.  Before encoding, the build drops whole-line comments and
# indentation: keep comments on lines of their own, and let no line of a
# string start with '#'.
#
# Why it exists: without a terminal, sshd never signals the remote command
# when the connection ends, so a worker that is busy, or ignores the EOF on
# its stdin, would run on for ever after spool is gone (see REMOTE.md).  The
# guard runs the worker in a process group of its own and takes that whole
# group down as soon as the ssh session is gone.
use strict;
use warnings;
use POSIX qw(WNOHANG ENOENT EINTR setpgid _exit uname);

# Seconds between TERM and KILL for a worker group that must go.
my $grace = 2;
my $host = (uname())[1];

# Messages name this host: the same worker may run on many.
sub fail {
	my ($code, $msg) = @_;
	print STDERR "spool: on $host: $msg\n";
	_exit($code);
}

# The worker's directory and environment come as options, as ssh passes
# no environment and a shell's cd would speak each shell's own words.
my ($cwd, $announce);
while (@ARGV && $ARGV[0] ne '--') {
	my $opt = shift @ARGV;
	if ($opt eq '-R') {
		$announce = 1;
		next;
	}
	my $val = shift @ARGV;
	if ($opt eq '-C' && defined $val) {
		$cwd = $val;
	} elsif ($opt eq '-E' && defined $val && $val =~ /^([^=]+)=(.*)$/s) {
		$ENV{$1} = $2;
	} else {
		fail(126, "guard: bad option '$opt'");
	}
}
shift @ARGV;
@ARGV or fail(126, "guard: no command to run");
if (defined $cwd && !chdir $cwd) {
	fail(126, "cannot change to directory '$cwd': $!");
}

# Handlers go in before the fork, so no moment exists in which a hang-up
# kills the guard with its default action and leaves the worker behind.
# exec gives the worker the default actions back.  Any of these means the
# session is over; CHLD only interrupts select() so an exit is seen at once.
my $gone = 0;
$SIG{$_} = sub { $gone = 1 } for qw(HUP TERM INT PIPE);
$SIG{CHLD} = sub { };

# perl makes pipes close-on-exec: end of file on $ran means the exec
# worked; a byte, that it failed.
pipe(my $ran, my $ran_w) or fail(126, "cannot make a pipe: $!");
my $pid = fork;
defined $pid or fail(126, "cannot fork: $!");
if ($pid == 0) {
	close $ran;
	setpgid(0, 0);
	# Our own message says it better than perl's warning.
	no warnings 'exec';
	exec { $ARGV[0] } @ARGV;
	my ($code, $why) = ($! == ENOENT ? 127 : 126, "$!");
	syswrite $ran_w, 'x';
	fail($code, "cannot run '$ARGV[0]': $why");
}
close $ran_w;
# The parent sets the group too, so it exists before any kill below.
setpgid($pid, $pid);
my $got;
do {
	$got = sysread $ran, my $byte, 1;
} while (!defined $got && $! == EINTR);
close $ran;
# One write, so it stays one line among the worker's own.
syswrite STDERR, "spool-guard: started $pid on $host\n" if $announce && !$got;

# sshd hands a command pipes on Linux.  When sshd drops the session, the
# write end of our stdout turns readable (an error) the moment its reader
# is gone; and sshd's session process, our parent, exits, which getppid
# notices.  Stdin is no sign: a worker may live on after its EOF.
my $out = fileno(STDOUT);
my $watch = -p STDOUT;
my $parent = getppid;
my $status;
until ($gone) {
	if (waitpid($pid, WNOHANG) == $pid) {
		$status = $?;
		last;
	}
	my $rin = '';
	vec($rin, $out, 1) = 1 if $watch;
	my $n = select(my $rout = $rin, undef, undef, 0.25);
	$gone = 1 if ($watch && $n > 0 && vec($rout, $out, 1));
	$gone = 1 if getppid != $parent;
}

# Reap the worker and wait until its whole group is empty, for at most
# $grace seconds; true when everything went.
sub settle {
	for (1 .. 20 * $grace) {
		$status = $? if !defined $status && waitpid($pid, WNOHANG) == $pid;
		return 1 if defined $status && !kill(0, -$pid);
		select(undef, undef, undef, 0.05);
	}
	return 0;
}

# A session that is gone takes the worker's group with it; a worker that
# exited by itself may have left children in its group, which go too.
# TERM first, so they may clean up; KILL what is left after the grace.
kill 'TERM', -$pid;
settle() or kill 'KILL', -$pid;
if (!defined $status) {
	waitpid($pid, 0);
	$status = $?;
}
# Exit as a shell reports its child: the code, or 128 + the signal.
exit(($status & 127) ? 128 + ($status & 127) : $status >> 8);
