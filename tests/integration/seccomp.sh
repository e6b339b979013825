#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: usvhostd's system call allow-list (--seccomp), as a user
# and an administrator see it.
#
#  1. --seccomp=kill --stats, with ring_faults (TX, RX, corrupt rings,
#     reloads: per-device workers, the stats writer, libfuse's threads)
#     against it: the daemon is not killed, so every call those paths make is
#     on the list; every thread seen meanwhile, workers included, shows
#     "Seccomp: 2" (filter mode) in /proc/PID/task/TID/status; the log names
#     the mode; SIGTERM: exit 0 and unmounted (the unmount path is listed).
#  2. The default (enforce): a system call off the list (getpgid), made by a
#     daemon thread from outside with gdb, returns -1 with errno EPERM; the
#     log names it once, however often it is made; the daemon serves on
#     (qemu_client passes) and exits 0. A SIGSYS sent with kill(1) is not a
#     refused call: the daemon ignores it and logs nothing.
#  3. --seccomp=log: the same call succeeds (returns the parent's pid).
#  4. --seccomp=kill: the same call kills the daemon with SIGSYS.
#  5. --seccomp=off: no filter (Seccomp: 0), said in the log; a bad mode is a
#     usage error (exit 2).
#
# Runs inside private mount and network namespaces (daemon-lib.sh). Needs
# gdb(1) to make a daemon thread call getpgid: no test hook in the daemon.
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=seccomp.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/ring_faults
qclient=$top_builddir/tests/integration/qemu_client
log_lines=60

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

if [ "${USVHOST_SECCOMP_IN_NS:-}" != 1 ]; then
	command -v gdb >/dev/null 2>&1 || skip "no gdb(1): it makes a daemon thread call getpgid"
fi
enter_namespaces USVHOST_SECCOMP_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run seccomp-daemon.log usvhost-seccomp
# The extra daemon options of the harness would change the mode under test.
USVHOST_DAEMON_ARGS=
ip link set lo up 2>/dev/null || true

# getpgid's number here: no build of the daemon asks for a process group.
nr=$(printf '#include <sys/syscall.h>\nSYS_getpgid\n' | ${CC:-cc} -E -P - 2>/dev/null | tail -n 1)
case $nr in
'' | *[!0-9]*) hard_error "cannot find getpgid's system call number (cc -E: '$nr')" ;;
esac

# Makes the daemon's main thread call getpgid(0) twice through gdb; prints
# "RET ERRNO" of the second call. SIGSYS goes to the daemon's own handler.
inject_getpgid() {
	timeout -s KILL $((30 * scale)) gdb -p "$dpid" -batch -nx -q \
		-ex 'handle SIGSYS nostop noprint pass' \
		-ex "call (long)syscall($nr, 0)" \
		-ex "printf \"RESULT %ld %d\\n\", (long)syscall($nr, 0), *(int *)__errno_location()" \
		2>&1 | awk '$1 == "RESULT" { print $2, $3 }'
}

# Every thread of the daemon while ring_faults runs: each status is read
# once (a thread may end meanwhile). Prints "TASKS WORKERS BAD".
watch_threads() { # PID
	tasks=0 workers=0 bad=0
	while kill -0 "$1" 2>/dev/null; do
		for t in /proc/"$dpid"/task/*; do
			st=$(cat "$t/status" 2>/dev/null) || continue
			[ -n "$st" ] || continue
			tasks=$((tasks + 1))
			case $(echo "$st" | awk '$1 == "Name:" { print $2 }') in
			usv-dev*) workers=$((workers + 1)) ;;
			esac
			if [ "$(echo "$st" | awk '$1 == "Seccomp:" { print $2 }')" != 2 ]; then
				bad=$((bad + 1))
				echo "$me: $t: $(echo "$st" | grep -E '^(Name|Seccomp)' | tr '\n' ' ')" >&2
			fi
		done
		sleep 0.1
	done
	echo "$tasks $workers $bad"
}

# ---- 1. kill mode over the datapath: nothing dies, every thread filtered ----
start_daemon --seccomp=kill --stats="$work/stats"
grep -q 'seccomp: allow-list of [0-9]* system calls installed (--seccomp=kill' "$log" ||
	fail "the log does not say the filter is installed in kill mode"
timeout -s KILL $((120 * scale)) "$client" --dev="$mnt/vhost-net" --stats="$work/stats" \
	--log="$log" --daemon-pid="$dpid" -q >"$work/client.out" 2>&1 &
cpid=$!
# shellcheck disable=SC2046 # three numbers
set -- $(watch_threads "$cpid")
wait "$cpid"
crc=$?
echo "$me: ring_faults exited $crc; $1 thread statuses read, $2 of device workers, $3 without a filter"
[ "$crc" -eq 0 ] || { fail "ring_faults failed (exit $crc)"; tail -n 20 "$work/client.out"; }
[ "$2" -ge 1 ] || fail "no device worker thread (usv-dev*) was seen while ring_faults ran"
[ "$3" -eq 0 ] || fail "$3 thread statuses without Seccomp: 2"
st=$(proc_state "$dpid")
if [ -z "$st" ] || [ "$st" = Z ]; then
	fail "usvhostd --seccomp=kill died under ring_faults: a call it makes is off the list"
	wait_daemon 1
	echo "$me: exit status $drc (159 is SIGSYS)"
else
	kill -USR1 "$dpid" # the stats writer's signalfd path, under the filter
	sleep 0.3
	stop_daemon
fi

# ---- 2. enforce (the default): EPERM, logged once; SIGSYS from outside ------
start_daemon
grep -q 'seccomp: allow-list of [0-9]* system calls installed (--seccomp=enforce' "$log" ||
	fail "the log does not say the filter is installed in enforce mode (the default)"
[ "$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$dpid/status")" = 2 ] ||
	fail "the daemon's main thread is not in seccomp filter mode"
kill -SYS "$dpid"
sleep 0.2
[ -n "$(proc_state "$dpid")" ] || fail "a SIGSYS sent with kill(1) killed the daemon"
got=$(inject_getpgid)
[ "$got" = "-1 1" ] || fail "getpgid in the daemon returned '$got', expected '-1 1' (EPERM)"
got=$(inject_getpgid)
[ "$got" = "-1 1" ] || fail "getpgid, again: '$got', expected '-1 1'"
n=$(grep -c "error: seccomp: refused system call getpgid ($nr) in thread $dpid with EPERM" "$log")
[ "$n" -eq 1 ] || fail "expected 1 log line for the 4 refused getpgid calls, found $n"
n=$(grep -c 'seccomp: refused' "$log")
[ "$n" -eq 1 ] || fail "expected 1 refused call in the log in all, found $n"
timeout -s KILL $((60 * scale)) "$qclient" --dev="$mnt/vhost-net" >"$work/qclient.out" 2>&1 ||
	{ fail "qemu_client failed after the refused calls"; tail -n 20 "$work/qclient.out"; }
SECCOMP_REFUSALS_EXPECTED=1 stop_daemon

# ---- 3. log: allowed -------------------------------------------------------
start_daemon --seccomp=log
pgid=$(sed 's/.*) //' "/proc/$dpid/stat" | cut -d' ' -f3)
got=$(inject_getpgid)
[ "${got%% *}" = "$pgid" ] ||
	fail "getpgid in the daemon under --seccomp=log returned '$got', expected $pgid"
check_daemon_log 'seccomp: refused' "--seccomp=log refused a call"
stop_daemon

# ---- 4. kill: killed by SIGSYS ---------------------------------------------
start_daemon --seccomp=kill
inject_getpgid >/dev/null
wait_daemon $((10 * scale))
if [ "$drc" = timeout ]; then
	fail "usvhostd --seccomp=kill still ran 10 s after calling getpgid (killed)"
elif [ "$drc" -ne 159 ]; then
	fail "usvhostd --seccomp=kill exited $drc after calling getpgid, expected 159 (SIGSYS)"
else
	echo "$me: --seccomp=kill: getpgid killed the daemon with SIGSYS"
fi
abort_fuse

# ---- 5. off; a bad mode -----------------------------------------------------
start_daemon --seccomp=off
[ "$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$dpid/status")" = 0 ] ||
	fail "--seccomp=off: the daemon is filtered"
grep -q -- '--seccomp=off: no system call filter' "$log" || fail "--seccomp=off is not logged"
stop_daemon
out=$("$daemon" --seccomp=strict --foreground 2>&1)
rc=$?
if [ "$rc" -ne 2 ] || ! echo "$out" | grep -q -- '--seccomp takes enforce, log, kill or off'; then
	fail "--seccomp=strict: exit $rc, '$out'; expected exit 2 naming the modes"
fi

check_daemon_log 'sanitizer|runtime error|segmentation|assert' \
	"the daemon log reports a crash or sanitizer error"
finish
