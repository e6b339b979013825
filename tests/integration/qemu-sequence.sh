#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: starts usvhostd on a FUSE mount and runs qemu_client (a C
# client that plays QEMU 7.2) against its vhost-net file, then stops the
# daemon with SIGTERM and checks it exits 0 and unmounts.
#
# Everything runs inside `unshare -m -n --propagation private`: the FUSE mount
# and the client's taps live in namespaces of their own and vanish with them.
# Every wait is bounded; on failure the FUSE connection is aborted and the
# daemon killed, so a hung daemon cannot hang the test run.
#
# Environment: top_builddir, top_srcdir (set by the harness; defaults derive
# from this script's location), USVHOST_CLIENT_WRAPPER (e.g. "valgrind
# --leak-check=full --error-exitcode=99"), USVHOST_TEST_TIMEOUT_SCALE (multiplies
# every timeout; set it with a slow wrapper), USVHOST_CLIENT_TIMEOUT (seconds
# the client may run, default 240), USVHOST_CLIENT_ARGS (extra client
# arguments, e.g. scenario names or -v).
#
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=qemu-sequence.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
client_timeout=$((${USVHOST_CLIENT_TIMEOUT:-240} * scale))
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/qemu_client
# Released-device checks look for the marker qemu_client's scenario 6 sets on
# the devices it abandons (CL_ABANDON_MARKER in client_lib.h).
marker_dec=606606
marker_hex=0x9418e

skip() {
	echo "SKIPPED: $me: $*" >&2
	echo "SKIPPED: $me: $*"
	exit 77
}

hard_error() {
	echo "ERROR: $me: $*"
	exit 99
}

if [ "${USVHOST_INTEG_IN_NS:-}" != 1 ]; then
	# Outside the namespaces: check what the test needs, then re-run self.
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mount, taps, namespaces)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun (taps for NET_SET_BACKEND)"
	command -v unshare >/dev/null 2>&1 || skip "no unshare(1) (util-linux)"
	command -v timeout >/dev/null 2>&1 || skip "no timeout(1) (coreutils)"
	[ -x "$daemon" ] || hard_error "$daemon not built"
	[ -x "$client" ] || hard_error "$client not built"
	unshare -m -n --propagation private true 2>/dev/null ||
		skip "cannot create private mount and network namespaces here"
	USVHOST_INTEG_IN_NS=1
	export USVHOST_INTEG_IN_NS top_srcdir top_builddir
	exec unshare -m -n --propagation private -- "${SHELL:-/bin/sh}" "$0" "$@"
fi

# ---- inside the private namespaces ---------------------------------------

logdir=$top_builddir/tests/integration
mkdir -p "$logdir" || hard_error "cannot create $logdir"
log=$logdir/qemu-sequence-daemon.log
work=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-integ.XXXXXX") ||
	hard_error "mktemp failed"
mnt=$work/mnt
dpid=
conn=
failed=0

now() { date +%s; }

fail() {
	echo "FAIL: $*"
	failed=1
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
	echo "---- last 40 lines of $log ----"
	tail -n 40 "$log"
	echo "---- end of daemon log ----"
}

# Waits at most $1 seconds for the daemon to exit; sets drc to its status, or
# to "timeout" after killing it. Polls /proc so no helper process outlives us.
proc_state() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1
}

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

# fusectl lets us abort a hung connection; mounting it here stays private.
if [ -d /sys/fs/fuse/connections ] && ! mountpoint -q /sys/fs/fuse/connections; then
	mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null ||
		echo "$me: note: cannot mount fusectl; hung connections are unmounted lazily instead"
fi

echo "$me: daemon $daemon, mount $mnt, log $log"
"$daemon" --transport=fuse --mount="$mnt" --foreground --log-level=debug \
	2>"$log" </dev/null &
dpid=$!

# The mount appears in mountinfo, then the file must be visible. A stat of a
# FUSE file can block on a dead daemon: bound it with timeout(1).
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
	--dev="$mnt/vhost-net" ${USVHOST_CLIENT_ARGS:-}
crc=$?
echo "$me: qemu_client exited $crc after $(($(now) - start)) s"
client_hung=no
case $crc in
0) ;;
124 | 137)
	fail "qemu_client timed out (killed after $client_timeout s)"
	client_hung=yes
	;;
*) fail "qemu_client reported failures (exit $crc)" ;;
esac

# ---- every device released --------------------------------------------------
# All clients have exited, so every device the log mentions must show a
# release (FUSE sends RELEASE asynchronously: poll, bounded). Handles may be
# reused, so each device is matched from its last line to a later release.
unreleased() {
	awk -v md="$marker_dec" -v mh="$marker_hex" '
	match($0, /dev [^ :]+:/) {
		h = substr($0, RSTART + 4, RLENGTH - 5)
		if (tolower($0) ~ /releas/) {
			if (h in marked)
				released_marked++
			delete live[h]
			delete marked[h]
			next
		}
		live[h] = 1
		if (index($0, md) || index(tolower($0), mh)) {
			if (!(h in marked))
				nmarked++
			marked[h] = 1
		}
	}
	END {
		for (h in live)
			printf "dev %s%s\n", h, (h in marked) ? " (abandoned by scenario 6)" : ""
		if (mode == "marked")
			printf "%d %d\n", nmarked, released_marked
	}' mode="${1:-}" "$log"
}
# Scenario 6 runs unless USVHOST_CLIENT_ARGS names scenarios without it.
want_marker=yes
for a in ${USVHOST_CLIENT_ARGS:-}; do
	case $a in
	-*) ;;
	6 | abandoned) want_marker=yes; break ;;
	*) want_marker=no ;;
	esac
done
check_releases() {
	deadline=$(($(now) + 10 * scale))
	left=$(unreleased)
	while [ -n "$left" ] && [ "$(now)" -le "$deadline" ]; do
		sleep 0.1
		left=$(unreleased)
	done
	if [ -n "$left" ]; then
		fail "devices never released according to the daemon log:"
		echo "$left" | sed 's/^/    /'
	else
		echo "$me: every device in the log was released"
	fi
	# Scenario 6 abandons 2 devices with the marker set: both must show a
	# release after their marker line (this holds when handles are reused).
	[ "$want_marker" = yes ] || return
	# shellcheck disable=SC2046 # two numbers, split on purpose
	set -- $(unreleased marked | tail -n 1)
	if [ "$1" -ne 2 ] || [ "$2" -ne 2 ]; then
		fail "expected 2 abandoned devices with marker $marker_dec ($marker_hex), both" \
			"released; the log shows $1 marked, $2 released after their marker"
	else
		echo "$me: both devices abandoned by scenario 6 were released"
	fi
}
if [ "$client_hung" = yes ]; then
	echo "$me: not checking releases: the client hung, the daemon is stuck"
else
	check_releases
fi
if [ "$(grep -ciE 'dev [^ :]+:' "$log")" -eq 0 ]; then
	fail "the daemon log has no 'dev <H>:' lines at --log-level=debug"
fi

# ---- SIGTERM: exit 0 and unmount -------------------------------------------
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
if grep -qiE 'sanitizer|runtime error|segmentation|assert' "$log"; then
	fail "the daemon log reports a crash or sanitizer error"
fi

if [ "$failed" -ne 0 ]; then
	show_log
	exit 1
fi
echo "$me: PASS"
exit 0
