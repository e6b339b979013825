#!/bin/sh
# SPDX-License-Identifier: MIT
#
# usvhostd as a security boundary: runs every scenario of hostile (a client
# built on client_lib that attacks the daemon as a guest and as a caller;
# `hostile --list` names them) against a fresh usvhostd on a FUSE mount, so
# that a crash or a wedged daemon shows in its own scenario only. Per
# scenario: start usvhostd (--stats, the options the scenario asks for, and
# --workers=1 while the daemon has a shared worker pool: every device on one
# worker is the worst case for isolation), and for fuse-fd-hang a second
# usvhostd whose file the client passes in after freezing it (SIGSTOP); run
# the client; then the daemon must still run, exit 0 on SIGTERM, unmount
# (or, for a scenario that stops it itself, have exited 1, unmounted),
# and have logged no crash or sanitizer report. Run it in the ASan build
# (configure --enable-sanitizers): heap overflows show there.
#
# Everything runs inside `unshare -m -n --propagation private`; every wait
# is bounded; on failure FUSE connections are aborted and daemons killed, so
# a hung daemon cannot hang the test run.
#
# Environment: top_builddir, top_srcdir (set by the harness; defaults derive
# from this script's location), USVHOST_CLIENT_WRAPPER, USVHOST_DAEMON_WRAPPER
# (words put before the client / usvhostd), USVHOST_TEST_TIMEOUT_SCALE
# (multiplies every timeout), USVHOST_CLIENT_TIMEOUT (seconds one scenario's
# client may run, default 150), USVHOST_CLIENT_ARGS (extra client arguments,
# e.g. -q), USVHOST_HOSTILE_SCENARIOS (names to run, default all).
#
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=hostile.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
client_timeout=$((${USVHOST_CLIENT_TIMEOUT:-150} * scale))
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/hostile

# For daemon-lib.sh.
log_lines=40
daemon_wrapper=${USVHOST_DAEMON_WRAPPER:-}
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

enter_namespaces USVHOST_HOSTILE_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------
ip link set lo up 2>/dev/null || true
workers=
if "$daemon" --help 2>/dev/null | grep -q -- '--workers'; then
	workers=--workers=1
fi
tab=$(printf '\t')
list=$("$client" --list) || hard_error "$client --list failed"

# The second daemon of fuse-fd-hang: started like the first (daemon-lib's
# variables swapped), stopped by stall_cleanup whatever happens.
spid='' sconn='' smnt=''
start_stall_daemon() {
	m0=$mnt l0=$log
	mnt=$work/mnt2
	log=${l0%-daemon.log}-stall.log
	start_daemon
	spid=$dpid sconn=$conn smnt=$mnt
	mnt=$m0 log=$l0 dpid='' conn=''
}

# shellcheck disable=SC2317 # called from the EXIT trap
stall_cleanup() {
	[ -n "$spid" ] || return 0
	kill -CONT "$spid" 2>/dev/null
	kill -KILL "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	if [ -n "$sconn" ] && [ -w "/sys/fs/fuse/connections/$sconn/abort" ]; then
		echo 1 >"/sys/fs/fuse/connections/$sconn/abort" 2>/dev/null
	fi
	umount -l "$smnt" 2>/dev/null
	spid=
}

# One scenario against a fresh daemon, in a subshell (exits with its verdict).
run_one() { # NAME DAEMON-OPTIONS STALL
	name=$1
	opts=$2
	[ "$opts" != - ] || opts=
	setup_run "hostile-$name-daemon.log" "usvhost-hostile-$name"
	trap 'stall_cleanup; cleanup' EXIT
	# Unprivileged callers reach the mount and the files the client makes.
	chmod 711 "$work"
	files=$work/files
	mkdir -m 755 "$files" || hard_error "cannot create $files"
	stall_args=
	if [ "$3" = stall ]; then
		start_stall_daemon
		stall_args="--stall-dev=$smnt/vhost-net --stall-pid=$spid"
	fi
	# shellcheck disable=SC2086 # option lists
	start_daemon --stats="$work/stats" --control="$work/control.sock" $workers $opts
	start=$(now)
	# shellcheck disable=SC2086 # the wrapper and extra arguments are word lists
	timeout -s KILL "$client_timeout" ${USVHOST_CLIENT_WRAPPER:-} "$client" \
		--dev="$mnt/vhost-net" --stats="$work/stats" --log="$log" --daemon-pid="$dpid" \
		--daemon="$daemon" --control="$work/control.sock" \
		--files="$files" $stall_args ${USVHOST_CLIENT_ARGS:-} "$name"
	crc=$?
	echo "$me: $name: the client exited $crc after $(($(now) - start)) s"
	case $crc in
	0) ;;
	77) skip "hostile could not run here" ;;
	124 | 137) fail "$name: the client timed out (killed after $client_timeout s)" ;;
	*) fail "$name: the client reported failures (exit $crc)" ;;
	esac
	stall_cleanup
	st=$(proc_state "$dpid")
	if [ "$3" = stops ]; then
		# The scenario sent SIGTERM and saw the daemon end: it must have
		# ended itself (exit 1, --stop-timeout), unmounted.
		if [ -n "$st" ] && [ "$st" != Z ]; then
			fail "$name: usvhostd still runs after the scenario stopped it"
			stop_daemon
		else
			wait "$dpid"
			drc=$?
			dpid=
			[ "$drc" -eq 1 ] || fail "$name: usvhostd exited $drc, expected 1 (a stop that had to leave devices)"
			! mounted || fail "$name: $mnt is still mounted after usvhostd ended"
		fi
	elif [ -z "$st" ] || [ "$st" = Z ]; then
		wait "$dpid"
		fail "$name: usvhostd died during the scenario (status $?)"
		dpid=
	else
		stop_daemon
	fi
	check_daemon_log 'sanitizer|runtime error|segmentation|assert|==[0-9]+== (invalid|.*uninitialised|.*definitely lost)' \
		"$name: the daemon log reports a crash, sanitizer or valgrind error"
	finish
}

failed_list='' n=0 nfail=0
t0=$(now)
while IFS="$tab" read -r name opts stall title; do
	if [ -n "${USVHOST_HOSTILE_SCENARIOS:-}" ]; then
		case " $USVHOST_HOSTILE_SCENARIOS " in
		*" $name "*) ;;
		*) continue ;;
		esac
	fi
	n=$((n + 1))
	echo
	echo "==== $me: $name: $title"
	(run_one "$name" "$opts" "$stall")
	rc=$?
	case $rc in
	0) ;;
	77) exit 77 ;;
	*)
		nfail=$((nfail + 1))
		failed_list="$failed_list $name"
		;;
	esac
done <<EOF
$list
EOF

echo
echo "$me: $n scenarios in $(($(now) - t0)) s: $((n - nfail)) passed, $nfail failed"
[ -z "$failed_list" ] || echo "$me: FAILED:$failed_list"
[ "$n" -gt 0 ] || hard_error "no scenario ran (USVHOST_HOSTILE_SCENARIOS=${USVHOST_HOSTILE_SCENARIOS:-})"
[ "$nfail" -eq 0 ] || exit 1
echo "$me: PASS"
exit 0
