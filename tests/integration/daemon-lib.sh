# shellcheck shell=sh
# SPDX-License-Identifier: MIT
#
# daemon-lib.sh: what the integration scripts (qemu-sequence.sh,
# ring-faults.sh) share to run usvhostd on a FUSE mount inside private mount
# and network namespaces. Every wait is bounded; on failure the FUSE
# connection is aborted and the daemon killed, so a hung daemon cannot hang
# the test run, and the EXIT trap leaves no mount, process or scratch dir.
#
# POSIX sh (the scripts run under sh and bash), sourced with `set -u`:
#   here=$(cd "$(dirname "$0")" && pwd)
#   . "$here/daemon-lib.sh"
#   enter_namespaces GUARD "$@"   # outside: prerequisites, then re-exec the
#                                 # script in the namespaces; inside: returns
#   setup_run LOG-NAME TMP-PREFIX # log, work dir, mount point, traps, fusectl
#   start_daemon [DAEMON-OPTION...]  # wait until $mnt/vhost-net answers
#   ... the client and the script's own checks, calling fail ...
#   stop_daemon                   # SIGTERM: exit 0, unmount, in bounded time
#   check_daemon_log REGEX MESSAGE  # fail MESSAGE if the log matches REGEX
#   finish                        # exit 1 (showing the log) or PASS, exit 0
#
# Variables it reads (set by the script before calling):
#   me            the script's name, the prefix of its messages
#   top_srcdir, top_builddir  (exported into the namespaces)
#   scale         multiplies every timeout (USVHOST_TEST_TIMEOUT_SCALE)
#   daemon        the usvhostd binary; client: the client binary (both must
#                 be executable, else hard error 99)
#   daemon_wrapper  words put before "$daemon" (default: none)
#   USVHOST_DAEMON_ARGS  (environment) words put after the options
#                 start_daemon always gives, before the script's own: e.g.
#                 --seccomp=kill to prove the allow-list complete for a test
#   log_lines     how many lines of the log show_log prints (default 40)
# Variables it sets:
#   log           the daemon's stderr: $top_builddir/tests/integration/LOG-NAME
#   work          the scratch dir ($TMPDIR/TMP-PREFIX.XXXXXX, removed at exit)
#   mnt           the FUSE mount point, $work/mnt
#   dpid          usvhostd's pid while it runs, else empty
#   conn          the FUSE connection's id (under /sys/fs/fuse/connections)
#   failed        1 once fail was called
#   drc           wait_daemon's result: the exit status, or "timeout"
# Other functions: skip (exit 77, loud), hard_error (exit 99), fail (record
# and go on), now, mounted, find_conn, abort_fuse, show_log, proc_state,
# wait_daemon SECS.
#
# Exit codes: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

# shellcheck disable=SC2154 # me, daemon, client, scale: set by the script

skip() {
	echo "SKIPPED: $me: $*" >&2
	echo "SKIPPED: $me: $*"
	exit 77
}

hard_error() {
	echo "ERROR: $me: $*"
	exit 99
}

now() { date +%s; }

fail() {
	echo "FAIL: $*"
	failed=1
}

# Outside the namespaces (the environment variable GUARD is not 1): check
# what the test needs, then re-run the script in private mount and network
# namespaces with GUARD=1, where this returns at once.
enter_namespaces() { # GUARD [script arguments]
	guard=$1
	shift
	eval "[ \"\${$guard:-}\" != 1 ]" || return 0
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mount, taps, namespaces)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun (taps for NET_SET_BACKEND)"
	command -v unshare >/dev/null 2>&1 || skip "no unshare(1) (util-linux)"
	command -v timeout >/dev/null 2>&1 || skip "no timeout(1) (coreutils)"
	[ -x "$daemon" ] || hard_error "$daemon not built"
	[ -x "$client" ] || hard_error "$client not built"
	unshare -m -n --propagation private true 2>/dev/null ||
		skip "cannot create private mount and network namespaces here"
	export "$guard=1" top_srcdir top_builddir
	exec unshare -m -n --propagation private -- "${SHELL:-/bin/sh}" "$0" "$@"
}

# ---- inside the private namespaces ---------------------------------------

setup_run() { # LOG-NAME TMP-PREFIX
	logdir=$top_builddir/tests/integration
	mkdir -p "$logdir" || hard_error "cannot create $logdir"
	log=$logdir/$1
	work=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX") || hard_error "mktemp failed"
	mnt=$work/mnt
	dpid=
	conn=
	failed=0
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
	# fusectl lets us abort a hung connection; mounting it here stays private.
	if [ -d /sys/fs/fuse/connections ] && ! mountpoint -q /sys/fs/fuse/connections; then
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null ||
			echo "$me: note: cannot mount fusectl; hung connections are unmounted lazily instead"
	fi
}

# The FUSE connection's id is the superblock's device number, which
# mountinfo shows as major:minor (reading mountinfo never touches FUSE).
find_conn() {
	awk -v m="$mnt" '$5 == m { split($3, d, ":"); print d[1] * 1048576 + d[2]; exit }' \
		/proc/self/mountinfo
}

mounted() {
	awk -v m="$mnt" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# Aborts our mount's connection only: an id remembered from an earlier look
# may belong to another test's mount once ours is gone (ids are reused).
abort_fuse() {
	local now
	now=$(find_conn)
	if [ -n "$now" ] && [ -n "$conn" ] && [ "$now" != "$conn" ]; then
		echo "$me: note: $mnt is now FUSE connection $now, not $conn"
	fi
	conn=$now
	if [ -n "$conn" ] && [ -w "/sys/fs/fuse/connections/$conn/abort" ]; then
		echo "$me: aborting FUSE connection $conn"
		echo 1 >"/sys/fs/fuse/connections/$conn/abort"
	fi
	mounted && umount -l "$mnt" 2>/dev/null
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		abort_fuse
		kill -KILL "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	mounted && umount -l "$mnt" 2>/dev/null
	rm -rf "$work"
}

show_log() {
	echo "---- last ${log_lines:-40} lines of $log ----"
	tail -n "${log_lines:-40}" "$log"
	echo "---- end of daemon log ----"
}

proc_state() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1
}

# Waits at most $1 seconds for the daemon to exit; sets drc to its status, or
# to "timeout" after killing it. Polls /proc so no helper process outlives us.
wait_daemon() {
	end=$(($(now) + $1))
	while :; do
		st=$(proc_state "$dpid")
		{ [ -z "$st" ] || [ "$st" = Z ]; } && break
		if [ "$(now)" -gt "$end" ]; then
			kill -KILL "$dpid" 2>/dev/null
			wait "$dpid" 2>/dev/null
			drc=timeout
			dpid=
			return
		fi
		sleep 0.05
	done
	wait "$dpid"
	drc=$?
	dpid=
}

# Starts usvhostd on $mnt (its stderr to $log) with the extra options given,
# and waits, at most 10 s (scaled) in all, for the mount to appear in
# mountinfo and then for $mnt/vhost-net. A stat of a FUSE file can block on a
# dead daemon: each is bounded with timeout(1). Exits 1 on failure.
# shellcheck disable=SC2120 # the options are optional
start_daemon() { # [DAEMON-OPTION...]
	# shellcheck disable=SC2086 # the wrapper and USVHOST_DAEMON_ARGS are word lists
	${daemon_wrapper:-} "$daemon" --transport=fuse --mount="$mnt" --foreground \
		--log-level=debug ${USVHOST_DAEMON_ARGS:-} "$@" 2>"$log" </dev/null &
	dpid=$!
	deadline=$(($(now) + 10 * scale))
	until mounted; do
		st=$(proc_state "$dpid")
		if [ -z "$st" ] || [ "$st" = Z ]; then
			wait "$dpid"
			echo "FAIL: usvhostd exited with status $? before mounting"
			dpid=
			show_log
			exit 1
		fi
		if [ "$(now)" -gt "$deadline" ]; then
			fail "usvhostd did not mount $mnt within $((10 * scale)) s"
			show_log
			exit 1
		fi
		sleep 0.05
	done
	conn=$(find_conn)
	until timeout -s KILL $((2 * scale)) test -e "$mnt/vhost-net"; do
		if [ "$(now)" -gt "$deadline" ]; then
			fail "$mnt/vhost-net did not appear within $((10 * scale)) s"
			show_log
			exit 1
		fi
		sleep 0.05
	done
	echo "$me: $mnt/vhost-net is there (FUSE connection $conn)"
}

# SIGTERM: the daemon must exit 0 within 15 s (scaled; else it is killed and
# its connection aborted) and leave nothing mounted.
stop_daemon() {
	kill -TERM "$dpid"
	wait_daemon $((15 * scale))
	if [ "$drc" = timeout ]; then
		fail "usvhostd did not exit within $((15 * scale)) s of SIGTERM (killed)"
		abort_fuse
	elif [ "$drc" -ne 0 ]; then
		fail "usvhostd exited with status $drc after SIGTERM, expected 0"
	else
		echo "$me: usvhostd exited 0 after SIGTERM"
	fi
	if mounted; then
		fail "$mnt is still mounted after usvhostd exited"
		abort_fuse
	fi
	# Every run doubles as a check of the system-call allow-list: a call
	# it refused (--seccomp=enforce logs it) is a path the list misses.
	# seccomp.sh provokes refusals on purpose and sets this to 1.
	if [ "${SECCOMP_REFUSALS_EXPECTED:-0}" != 1 ] &&
		grep -q 'seccomp: refused system call' "$log"; then
		fail "the daemon made a system call its seccomp allow-list refuses: $(grep -m1 'seccomp: refused' "$log")"
	fi
}

# Waits at most 10 s (scaled) for a line matching REGEX in FILE (default
# $out, a client's output); fails and shows the file if none comes.
wait_out() { # REGEX [FILE]
	end=$(($(now) + 10 * scale))
	until grep -qE "$1" "${2:-$out}"; do
		if [ "$(now)" -gt "$end" ]; then
			fail "no line '$1' in ${2:-$out}"
			cat "${2:-$out}"
			return 1
		fi
		sleep 0.05
	done
}

check_daemon_log() { # EXTENDED-REGEX MESSAGE (case-insensitive)
	if grep -qiE "$1" "$log"; then
		fail "$2"
	fi
}

finish() {
	if [ "$failed" -ne 0 ]; then
		show_log
		exit 1
	fi
	echo "$me: PASS"
	exit 0
}
