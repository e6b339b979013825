#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Datapath integration test: starts usvhostd on a FUSE mount (with --stats)
# and runs ring_faults (a C client that plays QEMU 7.2 and the guest driver:
# TX and RX through a tap, corrupt rings, GET_VRING_BASE while running)
# against its vhost-net file; then stops the daemon with SIGTERM and checks it
# exits 0, unmounts, and logged no crash.
#
# Everything runs inside `unshare -m -n --propagation private`: the FUSE mount
# and the taps live in namespaces of their own and vanish with them. Every
# wait is bounded; on failure the FUSE connection is aborted and the daemon
# killed, so a hung daemon cannot hang the test run.
#
# Environment: top_builddir, top_srcdir (set by the harness; defaults derive
# from this script's location), USVHOST_CLIENT_WRAPPER (e.g. "valgrind
# --error-exitcode=99"), USVHOST_DAEMON_WRAPPER (the same for usvhostd),
# USVHOST_TEST_TIMEOUT_SCALE (multiplies every timeout), USVHOST_CLIENT_TIMEOUT
# (seconds the client may run, default 120), USVHOST_CLIENT_ARGS (extra client
# arguments: scenario names, -q).
#
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=ring-faults.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
client_timeout=$((${USVHOST_CLIENT_TIMEOUT:-120} * scale))
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/ring_faults

skip() {
	echo "SKIPPED: $me: $*" >&2
	echo "SKIPPED: $me: $*"
	exit 77
}

hard_error() {
	echo "ERROR: $me: $*"
	exit 99
}

if [ "${USVHOST_RING_FAULTS_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mount, taps, namespaces)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun (taps for NET_SET_BACKEND)"
	command -v unshare >/dev/null 2>&1 || skip "no unshare(1) (util-linux)"
	command -v timeout >/dev/null 2>&1 || skip "no timeout(1) (coreutils)"
	[ -x "$daemon" ] || hard_error "$daemon not built"
	[ -x "$client" ] || hard_error "$client not built"
	unshare -m -n --propagation private true 2>/dev/null ||
		skip "cannot create private mount and network namespaces here"
	USVHOST_RING_FAULTS_IN_NS=1
	export USVHOST_RING_FAULTS_IN_NS top_srcdir top_builddir
	exec unshare -m -n --propagation private -- "${SHELL:-/bin/sh}" "$0" "$@"
fi

# ---- inside the private namespaces ---------------------------------------

logdir=$top_builddir/tests/integration
mkdir -p "$logdir" || hard_error "cannot create $logdir"
log=$logdir/ring-faults-daemon.log
work=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-ring.XXXXXX") || hard_error "mktemp failed"
mnt=$work/mnt
stats=$work/stats
dpid=
conn=
failed=0

now() { date +%s; }

fail() {
	echo "FAIL: $*"
	failed=1
}

find_conn() {
	awk -v m="$mnt" '$5 == m { split($3, d, ":"); print d[1] * 1048576 + d[2]; exit }' \
		/proc/self/mountinfo
}

mounted() {
	awk -v m="$mnt" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

abort_fuse() {
	[ -n "$conn" ] || conn=$(find_conn)
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
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

show_log() {
	echo "---- last 60 lines of $log ----"
	tail -n 60 "$log"
	echo "---- end of daemon log ----"
}

proc_state() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1
}

# Waits at most $1 seconds for the daemon to exit; drc = its status or
# "timeout" (then it was killed).
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

if [ -d /sys/fs/fuse/connections ] && ! mountpoint -q /sys/fs/fuse/connections; then
	mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null ||
		echo "$me: note: cannot mount fusectl; hung connections are unmounted lazily instead"
fi
# The namespace's loopback, for completeness; the taps are the client's.
ip link set lo up 2>/dev/null || true

echo "$me: daemon $daemon, mount $mnt, stats $stats, log $log"
# shellcheck disable=SC2086 # the wrapper is a word list
${USVHOST_DAEMON_WRAPPER:-} "$daemon" --transport=fuse --mount="$mnt" --foreground \
	--log-level=debug --stats="$stats" 2>"$log" </dev/null &
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

# ---- the client -------------------------------------------------------------
start=$(now)
# shellcheck disable=SC2086 # the wrapper and extra arguments are word lists
timeout -s KILL "$client_timeout" ${USVHOST_CLIENT_WRAPPER:-} "$client" \
	--dev="$mnt/vhost-net" --stats="$stats" --log="$log" --daemon-pid="$dpid" \
	${USVHOST_CLIENT_ARGS:-}
crc=$?
echo "$me: ring_faults exited $crc after $(($(now) - start)) s"
case $crc in
0) ;;
77) skip "ring_faults could not run here" ;;
124 | 137) fail "ring_faults timed out (killed after $client_timeout s)" ;;
*) fail "ring_faults reported failures (exit $crc)" ;;
esac

# ---- the daemon is still healthy: it answers and stops cleanly --------------
if ! timeout -s KILL $((2 * scale)) test -e "$mnt/vhost-net"; then
	fail "$mnt/vhost-net no longer answers after the client"
fi
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
if grep -qiE 'sanitizer|runtime error|segmentation|assert|==[0-9]+== (invalid|.*uninitialised|.*definitely lost)' "$log"; then
	fail "the daemon log reports a crash, sanitizer or valgrind error"
fi

if [ "$failed" -ne 0 ]; then
	show_log
	exit 1
fi
echo "$me: PASS"
exit 0
