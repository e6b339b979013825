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

# For daemon-lib.sh: show_log prints 60 lines; words before "$daemon".
log_lines=60
daemon_wrapper=${USVHOST_DAEMON_WRAPPER:-}
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

enter_namespaces USVHOST_RING_FAULTS_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run ring-faults-daemon.log usvhost-ring
stats=$work/stats
# The namespace's loopback, for completeness; the taps are the client's.
ip link set lo up 2>/dev/null || true

echo "$me: daemon $daemon, mount $mnt, stats $stats, log $log"
start_daemon --stats="$stats"

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
stop_daemon
check_daemon_log 'sanitizer|runtime error|segmentation|assert|==[0-9]+== (invalid|.*uninitialised|.*definitely lost)' \
	"the daemon log reports a crash, sanitizer or valgrind error"
finish
