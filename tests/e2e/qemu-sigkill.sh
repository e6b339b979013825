#!/usr/bin/env bash
# Broken peers: unmodified QEMU (vhost=on, FUSE front) killed with SIGKILL in
# the middle of traffic, E2E_KILLS (20) times in a row against one usvhostd,
# guest RAM alternating between memfd (mapped) and anonymous (procmem). The
# guest floods the host both ways over TCP; once usvhostd's counters show
# packets moving both ways, QEMU gets SIGKILL. After each kill the device must
# be released (the daemon logs the release and its stats file lists no
# device); after the last one, the daemon's open fds and RSS must be back to
# what they were after the first (within E2E_FD_SLACK fds and E2E_RSS_SLACK_KIB;
# RSS is only reported under ASan, whose quarantine keeps freed memory).
# Prints the figures of every run. Then usvhostd must exit 0 on SIGTERM and
# its log show no crash or sanitizer report.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=60}" # s, one guest run (it is killed long before)
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_KILLS:=20}"
: "${E2E_FD_SLACK:=2}"
: "${E2E_RSS_SLACK_KIB:=512}"
: "${E2E_TRAFFIC_WAIT:=40}"  # s from QEMU's start until traffic must flow
: "${E2E_MIN_PACKETS:=200}"  # per direction, before the kill

e2e_require_host
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

# The guest floods the host both ways until it is killed.
cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up $E2E_GUEST_IP/24 || exit 1
echo USVHOST_FLOOD
mkfifo /tmp/hold
nc $E2E_HOST_IP 5002 0<>/tmp/hold >/dev/null &
while :; do nc $E2E_HOST_IP 5001 </dev/zero >/dev/null; sleep 0.2; done
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"

e2e_run_begin daemon
e2e_start_daemon --stats="$E2E_RUN_DIR/stats"
DAEMON_DIR=$E2E_RUN_DIR
DLOG=$DAEMON_DIR/daemon.log
STATS=$DAEMON_DIR/stats
DPID=$E2E_DAEMON_PID

# The stats file right now (SIGUSR1 makes the daemon rewrite it).
fresh_stats() {
	local before
	before=$(stat -c %Y.%s "$STATS" 2>/dev/null || echo none)
	kill -USR1 "$DPID" 2>/dev/null || return 1
	sleep 0.1
	[ "$(stat -c %Y.%s "$STATS" 2>/dev/null || echo none)" != "$before" ] || sleep 0.2
}

# Packets of the open devices' rings on usvtap0: "TX RX".
tap_packets() {
	awk '/backend=tap:usvtap0 / {
		p = $0; sub(/.* packets=/, "", p); sub(/ .*/, "", p)
		if ($0 ~ / dir=tx /) tx += p; else rx += p }
		END { print tx + 0, rx + 0 }' "$STATS"
}

# The QEMU that e2e_boot_guest (in subshell PID) started: its child.
qemu_of() {
	local c
	# shellcheck disable=SC2013 # the file is a list of pids
	for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
		if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = qemu-system-x86 ]; then
			echo "$c"
			return
		fi
	done
}

open_devices() { grep -c '^dev=' "$STATS" || true; }
daemon_fds() { find "/proc/$DPID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
daemon_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status"; }

asan=0
if ldd "$USVHOSTD" 2>/dev/null | grep -q libasan; then
	asan=1
fi

base_fds="" base_rss="" t0=$SECONDS
for ((i = 1; i <= E2E_KILLS; i++)); do
	ram=$([ $((i % 2)) = 1 ] && echo memfd || echo anon)
	e2e_run_begin "run-$i"
	releases0=$(grep -c ': release (' "$DLOG" || true)
	[ -p "$E2E_DIR/hold" ] || mkfifo "$E2E_DIR/hold"
	# Host ends of the flood: a sink for 5001, a source for 5002.
	timeout -k 2 $((E2E_QEMU_TIMEOUT + 10)) busybox nc -l -p 5001 0<>"$E2E_DIR/hold" \
		>/dev/null 2>&1 &
	sink=$!
	timeout -k 2 $((E2E_QEMU_TIMEOUT + 10)) busybox nc -l -p 5002 </dev/zero \
		>/dev/null 2>&1 &
	source=$!
	(e2e_boot_guest --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram" \
		--timeout="$E2E_QEMU_TIMEOUT") 2>"$E2E_RUN_DIR/boot.err" &
	boot=$!
	start=$SECONDS qpid="" tx=0 rx=0
	while [ $((SECONDS - start)) -lt "$E2E_TRAFFIC_WAIT" ]; do
		[ -n "$qpid" ] || qpid=$(qemu_of "$boot")
		e2e_alive "$boot" || break
		fresh_stats || break
		read -r tx rx < <(tap_packets)
		[ "$tx" -lt "$E2E_MIN_PACKETS" ] || [ "$rx" -lt "$E2E_MIN_PACKETS" ] || break
		sleep 0.2
	done
	secs=$((SECONDS - start))
	if [ "$tx" -ge "$E2E_MIN_PACKETS" ] && [ "$rx" -ge "$E2E_MIN_PACKETS" ]; then
		e2e_pass "run $i ($ram RAM): traffic both ways after $secs s (tx $tx, rx $rx packets)"
	else
		e2e_fail "run $i ($ram RAM): no traffic both ways within $E2E_TRAFFIC_WAIT s (tx $tx, rx $rx packets)"
	fi
	if [ -n "$qpid" ] && [ "$(cat "/proc/$qpid/comm" 2>/dev/null)" = qemu-system-x86 ]; then
		kill -KILL "$qpid"
	else
		e2e_fail "run $i: QEMU is not running to be killed (pid '${qpid:-none}')"
		e2e_show_run_logs
	fi
	e2e_wait_pid "$boot" 10 || { e2e_fail "run $i: QEMU did not go"; e2e_kill_bounded "$boot" boot; }
	for p in $sink $source; do e2e_kill_bounded "$p" "host-side nc" || true; done
	# Released: the log says so and the stats file lists no device.
	deadline=$((SECONDS + 5)) left=1 releases=$releases0
	while [ "$SECONDS" -le "$deadline" ]; do
		releases=$(grep -c ': release (' "$DLOG" || true)
		fresh_stats || break
		left=$(open_devices)
		[ "$releases" -le "$releases0" ] || [ "$left" != 0 ] || break
		sleep 0.1
	done
	if ! e2e_alive "$DPID"; then
		e2e_fail "run $i: usvhostd died"
		break
	fi
	fds=$(daemon_fds) rss=$(daemon_rss)
	if [ "$releases" -gt "$releases0" ] && [ "$left" = 0 ]; then
		e2e_pass "run $i: the device was released ($((releases - releases0)) release, 0 open); daemon fds $fds, VmRSS $rss KiB"
	else
		e2e_fail "run $i: device not released within 5 s of the kill (releases +$((releases - releases0)), $left still in the stats file); fds $fds, VmRSS $rss KiB"
	fi
	[ -n "$base_fds" ] || { base_fds=$fds base_rss=$rss; }
	e2e_run_end
done
e2e_log "$((i - 1)) kills in $((SECONDS - t0)) s"

fds=$(daemon_fds) rss=$(daemon_rss)
e2e_log "usvhostd after run 1: $base_fds fds, VmRSS $base_rss KiB; after the last: $fds fds, VmRSS $rss KiB"
if [ "$fds" -le $((base_fds + E2E_FD_SLACK)) ]; then
	e2e_pass "daemon fds back to the baseline: $fds (after run 1: $base_fds, slack $E2E_FD_SLACK)"
else
	e2e_fail "daemon fds grew: $fds after $E2E_KILLS kills, $base_fds after the first (slack $E2E_FD_SLACK)"
fi
if [ "$asan" = 1 ]; then
	e2e_log "ASan build: VmRSS not compared (its quarantine holds freed memory); LeakSanitizer checks at exit"
elif [ "$rss" -le $((base_rss + E2E_RSS_SLACK_KIB)) ]; then
	e2e_pass "daemon VmRSS back to the baseline: $rss KiB (after run 1: $base_rss KiB, slack $E2E_RSS_SLACK_KIB KiB)"
else
	e2e_fail "daemon VmRSS grew: $rss KiB after $E2E_KILLS kills, $base_rss KiB after the first (slack $E2E_RSS_SLACK_KIB KiB)"
fi

E2E_RUN_DIR=$DAEMON_DIR
e2e_check_daemon_stop
if grep -Eiq 'sanitizer|runtime error|segmentation|assert' "$DLOG"; then
	e2e_fail "the daemon log reports a crash or sanitizer error"
	e2e_show_file "$DLOG" 60
else
	e2e_pass "no crash or sanitizer report in the daemon log"
fi
e2e_run_end
e2e_finish
