#!/bin/sh
# SPDX-License-Identifier: MIT
#
# usvhostd --takeover with the daemon itself (FUSE-file front, --control):
# control_client keeps a device (memfd RAM, a tap named tko0) open and busy
# while new daemons take over from the running one, three times:
#   * each old daemon exits 0, the new one logs that it serves the device;
#   * the same open file is served by the new daemon: TX packets reach the
#     tap and RX frames the guest's buffers through the rebuilt rings;
#     GET_FEATURES calls issued back to back across one hand-over all
#     succeed, and so do 20000 TX packets sent one after another across
#     another: none lost (each is awaited on the tap), none sent twice (the
#     counters are exact);
#   * the ring counters go on across hand-overs (usvhostctl stats);
#   * a takeover asking only for a state version the daemon does not write
#     is refused (EPROTONOSUPPORT) and nothing stops; usvhostd --takeover on
#     a socket nobody listens on exits 1 and says so; one given another
#     --mount exits 1 before it asks for anything; one that cannot
#     rebuild the device exits 1, and the running daemon resumes, its mount
#     untouched;
#   * the last daemon exits 0 on SIGTERM and takes the mount and the socket.
#
# Environment: as control.sh (top_builddir, top_srcdir,
# USVHOST_CLIENT_WRAPPER, USVHOST_DAEMON_WRAPPER, USVHOST_TEST_TIMEOUT_SCALE).
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=takeover.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/control_client
ctl=$top_builddir/src/usvhostctl
log_lines=60
daemon_wrapper=${USVHOST_DAEMON_WRAPPER:-}
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

[ -x "$ctl" ] || hard_error "$ctl not built"
command -v mkfifo >/dev/null 2>&1 || skip "no mkfifo(1)"
command -v python3 >/dev/null 2>&1 || skip "no python3 (the raw control client)"
enter_namespaces USVHOST_TAKEOVER_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run takeover-daemon.log usvhost-takeover
ip link set lo up 2>/dev/null || true
sock=$work/ctl.sock
out=$work/client.out

usvctl() { timeout -s KILL $((10 * scale)) "$ctl" --control="$sock" "$@"; }

# Waits at most 10 s (scaled) for N lines matching REGEX in the client's
# output.
wait_count() { # REGEX N
	end=$(($(now) + 10 * scale))
	until [ "$(grep -cE "$1" "$out")" -ge "$2" ]; do
		if [ "$(now)" -gt "$end" ]; then
			fail "fewer than $2 lines '$1' from the client: $(tail -n 3 "$out" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.05
	done
}

# A new daemon takes over from $dpid; its log becomes $log.
take_over() { # N
	newlog=$logdir/takeover-daemon-$1.log
	# shellcheck disable=SC2086 # the wrapper and USVHOST_DAEMON_ARGS are word lists
	${daemon_wrapper:-} "$daemon" --takeover --control="$sock" --foreground --log-level=debug \
		${USVHOST_DAEMON_ARGS:-} 2>"$newlog" </dev/null &
	newpid=$!
	wait_daemon $((20 * scale))
	if [ "$drc" != 0 ]; then
		fail "hand-over $1: the old daemon exited '$drc', expected 0"
		show_log
	fi
	grep -q 'takeover: [0-9]* device.* handed over' "$log" ||
		fail "hand-over $1: the old daemon's log does not say it handed over"
	grep -q 'handed over: every device' "$log" ||
		fail "hand-over $1: the old daemon's log does not say what it left"
	dpid=$newpid
	log=$newlog
	wait_out 'takeover: serving 1 device taken over from pid' "$log" ||
		fail "hand-over $1: the new daemon does not serve the device"
	mounted || fail "hand-over $1: $mnt is no longer mounted"
	[ -S "$sock" ] || fail "hand-over $1: the control socket $sock is gone"
}

start_daemon --control="$sock"
mkfifo "$work/cmd"
# shellcheck disable=SC2086 # the wrapper is a word list
timeout -s KILL $((120 * scale)) ${USVHOST_CLIENT_WRAPPER:-} "$client" --dev="$mnt/vhost-net" \
	--tap=tko0 --tx=5 --rx=3 <"$work/cmd" >"$out" 2>&1 &
cpid=$!
exec 3>"$work/cmd"
wait_out '^ready ' || finish
grep -q 'failures=0' "$out" || fail "control_client could not move its packets: $(cat "$out")"

# ---- refusals that stop nothing --------------------------------------------
ans=$(timeout -s KILL $((10 * scale)) python3 - "$sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"proto":1,"cmd":"takeover","args":{"versions":[99]}}\n')
print(s.makefile().readline().strip())
PY
)
case $ans in
*'"code":"EPROTONOSUPPORT"'*) echo "$me: a takeover for state version 99 is refused: $ans" ;;
*) fail "a takeover for state version 99 was answered: $ans" ;;
esac
grep -q 'no request in flight' "$log" && fail "the refused takeover stopped the front"
timeout -s KILL $((20 * scale)) "$daemon" --takeover --control="$work/nobody.sock" \
	--foreground 2>"$work/nobody.log" </dev/null
rc=$?
if [ "$rc" = 1 ] && grep -q "no usvhostd listens on $work/nobody.sock" "$work/nobody.log"; then
	echo "$me: --takeover with nobody listening exits 1: $(grep -o 'no usvhostd.*' "$work/nobody.log")"
else
	fail "--takeover with nobody listening: status $rc: $(cat "$work/nobody.log")"
fi
# A mistyped option is found before anything stops: the new daemon asks the
# running one who it is (`version`) before it asks for the devices.
timeout -s KILL $((20 * scale)) "$daemon" --takeover --control="$sock" --mount="$work/elsewhere" \
	--foreground 2>"$work/mistyped.log" </dev/null
rc=$?
if [ "$rc" = 1 ] && grep -q -- '--mount differs from the running daemon' "$work/mistyped.log"; then
	echo "$me: --takeover with another --mount exits 1: $(grep -o -- '--mount differs.*' "$work/mistyped.log")"
else
	fail "--takeover with another --mount: status $rc: $(cat "$work/mistyped.log")"
fi
grep -q 'takes the devices over' "$log" &&
	fail "the takeover with another --mount was asked for: $(grep -m1 'takes the devices over' "$log")"
echo "ioctls 5" >&3
wait_out '^ioctls n=5 .*failures=0' || finish

# A new daemon that cannot rebuild the device (it allows fewer memory
# regions than the device has): it exits 1, the running daemon resumes, and
# the mount, which is still the running daemon's, stays.
# shellcheck disable=SC2086 # the wrapper and USVHOST_DAEMON_ARGS are word lists
timeout -s KILL $((30 * scale)) ${daemon_wrapper:-} "$daemon" --takeover --control="$sock" \
	--foreground --max-mem-regions=1 ${USVHOST_DAEMON_ARGS:-} 2>"$work/small.log" </dev/null
rc=$?
if [ "$rc" = 1 ] && grep -q 'cannot be rebuilt' "$work/small.log"; then
	echo "$me: a new daemon that cannot rebuild the device exits 1: $(grep -o 'takeover: dev.*' "$work/small.log" | head -n1)"
else
	fail "--takeover --max-mem-regions=1: status $rc: $(tail -n 5 "$work/small.log")"
fi
mounted || fail "the failed takeover unmounted $mnt"
grep -q 'hand-over failed.*serving on' "$log" || fail "the running daemon did not say it serves on"
kill -0 "$dpid" 2>/dev/null || fail "the running daemon is gone after a failed takeover"
echo "tx 1" >&3
wait_out '^tx n=1 failures=0' || finish
echo "ioctls 5" >&3
wait_count '^ioctls n=5 .*failures=0' 2 || finish

# ---- three hand-overs ------------------------------------------------------
take_over 1
echo "tx 5" >&3
wait_out '^tx n=5 failures=0' || finish
echo "rx 2" >&3
wait_out '^rx n=2 failures=0' || finish

# Back-to-back ioctls while the next hand-over happens (a few seconds of
# them: still running when it is done): none may fail.
echo "ioctls 100000" >&3
sleep 0.2
take_over 2
if grep -q '^ioctls n=100000' "$out"; then
	fail "the 100000 GET_FEATURES were over before hand-over 2 was: nothing proven"
fi
end=$(($(now) + 120 * scale))
until grep -q '^ioctls n=100000' "$out" || [ "$(now)" -gt "$end" ]; do sleep 0.1; done
grep -q '^ioctls n=100000 .*failures=0' "$out" ||
	fail "GET_FEATURES across hand-over 2: $(grep '^ioctls n=100000' "$out" || echo 'not done in time')"
echo "$me: 100000 GET_FEATURES across hand-over 2: $(grep '^ioctls n=100000' "$out")"

# TX packets one after another while hand-over 3 happens: each must reach
# the tap and be used (a lost one times out), and the counters below must
# be exact (a packet sent twice would count twice).
echo "tx 20000" >&3
sleep 0.2
take_over 3
if grep -q '^tx n=20000' "$out"; then
	fail "the 20000 TX packets were over before hand-over 3 was: nothing proven"
fi
end=$(($(now) + 120 * scale))
until grep -q '^tx n=20000' "$out" || [ "$(now)" -gt "$end" ]; do sleep 0.1; done
grep -q '^tx n=20000 failures=0' "$out" ||
	fail "TX across hand-over 3: $(grep '^tx n=20000' "$out" || tail -n 5 "$out")"
echo "$me: 20000 TX packets across hand-over 3: $(grep '^tx n=20000' "$out")"
echo "rx 2" >&3
wait_count '^rx n=2 failures=0' 2 || finish

# Counters from the first daemon on: 5 + 1 + 5 + 20000 TX packets, 3 + 2 + 2
# RX.
usvctl stats --json --watch --count=1 >"$work/stats.json" || fail "usvhostctl stats failed"
for want in '"index":0,"dir":"rx","state":"running","backend":"tap:tko0","packets":7,' \
	'"index":1,"dir":"tx","state":"running","backend":"tap:tko0","packets":20011,'; do
	grep -qF "$want" "$work/stats.json" ||
		fail "stats after three hand-overs lack $want: $(cat "$work/stats.json")"
done

# ---- the end ---------------------------------------------------------------
echo quit >&3
exec 3>&-
wait $cpid || fail "control_client failed: $(cat "$out")"
stop_daemon
[ -e "$sock" ] && fail "the socket $sock is still there after SIGTERM"
for f in "$logdir"/takeover-daemon*.log; do
	grep -qiE 'sanitizer|runtime error|segmentation|assert' "$f" &&
		fail "$f reports a crash or sanitizer error"
	grep -q 'seccomp: refused system call' "$f" &&
		fail "$f: a system call the allow-list refuses: $(grep -m1 'seccomp: refused' "$f")"
done
finish
