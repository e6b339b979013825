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

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

enter_namespaces USVHOST_INTEG_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run qemu-sequence-daemon.log usvhost-integ
echo "$me: daemon $daemon, mount $mnt, log $log"
start_daemon

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
stop_daemon
check_daemon_log 'sanitizer|runtime error|segmentation|assert' \
	"the daemon log reports a crash or sanitizer error"
finish
