#!/usr/bin/env bash
# Live upgrade in place: while unmodified QEMU's guest streams TCP both ways
# through usvhostd (FUSE-file front), a new usvhostd takes everything over
# (usvhostd --takeover) ten times in a row, each from the one before. Every
# transfer must finish with the right sha256, every old daemon exit 0, QEMU
# print nothing and exit 0, and the last daemon's counters account for all
# the traffic (they continue across hand-overs). Then two refusals, each of
# which must leave the running daemon serving: a takeover with another
# --mount (refused before it asks: the running daemon never stops), and one
# against a socket nobody listens on.
#
# Run for QEMU's default anonymous RAM (reached through /proc/PID/mem), for
# shared memfd RAM (mapped from the descriptor handed over), and for memfd
# RAM behind a vIOMMU with the packed ring ("viommu-packed": q35,
# intel-iommu, iommu_platform=on,packed=on, the guest in iommu=pt; the
# device IOTLB and its queued misses are handed over too).
#
# Tunables: E2E_UPGRADE_RAMS ("anon memfd viommu-packed"), E2E_UPGRADE_COUNT (10),
# E2E_UPGRADE_MIB (6: MiB each way, paced at 256 KiB/s).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=180}" # s, one guest's whole life
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_UPGRADE_RAMS=anon memfd viommu-packed}"
: "${E2E_UPGRADE_COUNT:=10}"
: "${E2E_UPGRADE_MIB:=6}"

e2e_require_host
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

# Paced flows (64 KiB per 0.25 s): they last about 25 s whatever the host's
# speed, long enough for every hand-over to happen while both run.
cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
GUEST_XFER_TIMEOUT=150
GUEST_MARKS=1
guest_net_up 10.0.77.2/24 || exit 1
guest_ping_host || exit 1
guest_mkdata /tmp/g2h $E2E_UPGRADE_MIB || exit 1
guest_send_paced 5001 /tmp/g2h 64 0.25 &
g2h=\$!
guest_recv_paced 5002 /tmp/h2g 64 0.25 || rc=1
wait \$g2h || rc=1
[ -z "\${rc:-}" ] || exit 1
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"

wait_for_line() { # FILE REGEX SECS
	local deadline=$((SECONDS + $3))
	until grep -aq -- "$2" "$1" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# Both flows still running: begun, neither ended.
flows_running() {
	local con=$E2E_RUN_DIR/console.log
	grep -aq '^USVHOST_MARK begin port=5002' "$con" &&
		! grep -aq '^USVHOST_MARK end port=500[12]' "$con"
}

# One hand-over: a new daemon takes over from E2E_DAEMON_PID, which must exit
# 0 while the new one serves. Extra arguments go to the new daemon.
take_over() { # N
	local n=$1 old=$E2E_DAEMON_PID new log=$E2E_RUN_DIR/daemon-$1.log t0
	t0=$(date +%s%N)
	# shellcheck disable=SC2086 # a word list
	"$USVHOSTD" --takeover --control="$CTL" --foreground --log-level=debug \
		--stats="$E2E_RUN_DIR/stats" ${USVHOST_DAEMON_ARGS:-} </dev/null >"$log" 2>&1 &
	new=$!
	if ! e2e_wait_pid "$old" 20; then
		e2e_fail "hand-over $n: the old daemon (pid $old) did not exit within 20 s"
		e2e_show_file "$log" 30
		return 1
	fi
	if [ "$E2E_WAIT_RC" != 0 ]; then
		e2e_fail "hand-over $n: the old daemon exited $E2E_WAIT_RC"
		return 1
	fi
	E2E_DAEMON_PID=$new
	if ! wait_for_line "$log" 'takeover: serving [0-9]* device' 10 || ! e2e_alive "$new"; then
		e2e_fail "hand-over $n: the new daemon (pid $new) does not serve"
		e2e_show_file "$log" 30
		return 1
	fi
	HANDOVER_MS+=($((($(date +%s%N) - t0) / 1000000)))
}

upgrade_run() { # RAM
	local ram=$1 name=$1 t0 n done_ok=0 last failed opts=() extra=()
	if [ "$ram" = viommu-packed ]; then
		ram=memfd
		opts=(--append="intel_iommu=on no_timer_check iommu=pt"
			--device-opts=iommu_platform=on,ats=on,disable-legacy=on,packed=on)
		extra=(-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,device-iotlb=on)
	fi
	e2e_log "=== $E2E_UPGRADE_COUNT hand-overs while the guest streams ($name RAM)"
	CTL=$E2E_DIR/control-$name.sock
	e2e_traffic_begin "upgrade-$name" --control="$CTL"
	e2e_flow_g2h 5001
	e2e_flow_h2g 5002 "$E2E_UPGRADE_MIB"
	e2e_ping_guest
	t0=$SECONDS
	e2e_boot_guest --vhost=on --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram" \
		"${opts[@]}" --background -- -trace virtio_queue_notify "${extra[@]}"
	HANDOVER_MS=()
	if ! wait_for_line "$E2E_RUN_DIR/console.log" '^USVHOST_MARK begin port=5002' 90; then
		e2e_fail "the guest did not start its transfers within 90 s"
	else
		sleep 1
		for ((n = 1; n <= E2E_UPGRADE_COUNT; n++)); do
			take_over "$n" || break
			flows_running || break
			done_ok=$n
			sleep 0.5
		done
		if [ "$done_ok" = "$E2E_UPGRADE_COUNT" ]; then
			e2e_pass "$done_ok hand-overs while both transfers ran (ms each: ${HANDOVER_MS[*]})"
		elif ! flows_running && [ "${#HANDOVER_MS[@]}" -ge "$n" ]; then
			e2e_fail "the transfers ended after $n of $E2E_UPGRADE_COUNT hand-overs (ms each: ${HANDOVER_MS[*]}): hand-overs too slow for the paced flows"
		fi
		# Refused hand-overs leave the running daemon serving.
		refusals
	fi
	if e2e_wait_pid "${E2E_BG_PID}" "$E2E_QEMU_TIMEOUT"; then
		E2E_QEMU_RC=$E2E_WAIT_RC
	else
		e2e_kill_bounded "$E2E_BG_PID" QEMU || true
		E2E_QEMU_RC=124
	fi
	E2E_BG_QEMU_PIDS=()
	e2e_traffic_end "$t0"
	# The daemon logs of the run, in order, for the checks and for people.
	for ((n = 1; n <= ${#HANDOVER_MS[@]}; n++)); do
		{ echo "==== daemon-$n.log (hand-over $n) ===="; cat "$E2E_RUN_DIR/daemon-$n.log"; } \
			>>"$E2E_RUN_DIR/daemons-after.log"
	done
	e2e_check_console '^USVHOST_TRAFFIC_DONE'
	e2e_check_pings
	e2e_check_flows
	e2e_check_qemu
	if [ -s "$E2E_RUN_DIR/qemu.err" ]; then
		e2e_fail "QEMU printed on stderr: $(head -n 3 "$E2E_RUN_DIR/qemu.err" | tr '\n' ' ')"
	else
		e2e_pass "QEMU printed nothing on stderr"
	fi
	e2e_check_no_qemu_datapath 1
	# The last daemon's log stands for the run's from here on.
	cp "$E2E_RUN_DIR/daemon.log" "$E2E_RUN_DIR/daemon-0.log"
	[ "${#HANDOVER_MS[@]}" = 0 ] || cp "$E2E_RUN_DIR/daemon-${#HANDOVER_MS[@]}.log" "$E2E_RUN_DIR/daemon.log"
	e2e_check_daemon_stop
	# Counters continue across hand-overs: the last daemon's stats file
	# alone (written at its exit) accounts for all the traffic.
	e2e_check_counters 1 1
	# No hand-over failed, and the refused one (another --mount) was
	# refused before it asked: the daemon that was running never stopped
	# for it (and the transfers prove it served on).
	last=$E2E_RUN_DIR/daemon-${#HANDOVER_MS[@]}.log
	failed=$(cat "$E2E_RUN_DIR"/daemon-*.log | grep -c 'takeover: hand-over failed' || true)
	if [ "$failed" = 0 ] && ! grep -q 'takes the devices over' "$last"; then
		e2e_pass "no hand-over failed; the refused one never stopped the running daemon (not asked: nothing about a takeover in $last)"
	else
		e2e_fail "$failed failed hand-overs logged, want 0, and the running daemon was asked $(grep -c 'takes the devices over' "$last") time(s) (want 0, in $last): $(cat "$E2E_RUN_DIR"/daemon-*.log | grep 'hand-over failed' | head -n 3 | tr '\n' ' ')"
	fi
	if [ "$name" = viommu-packed ]; then
		# The run's daemons served the IOTLB, and the rings ran packed.
		cat "$E2E_RUN_DIR"/daemon-*.log >"$E2E_RUN_DIR/daemons-all.log"
		e2e_check_iotlb_used "$E2E_RUN_DIR/daemons-all.log"
		n=$(cat "$E2E_RUN_DIR"/daemon-*.log | grep -c 'ring at stop: packed last_avail=' || true)
		if [ "$n" -ge 2 ]; then
			e2e_pass "the rings ran as packed rings ($n packed stop lines over the run)"
		else
			e2e_fail "$n packed ring stop lines over the run, want >= 2"
		fi
	fi
	if cat "$E2E_RUN_DIR"/daemon-*.log | grep -q 'cannot restart\|cannot start its rings'; then
		e2e_fail "a daemon could not start a ring: $(cat "$E2E_RUN_DIR"/daemon-*.log | grep 'cannot restart\|cannot start its rings' | head -n 2 | tr '\n' ' ')"
	fi
	e2e_run_end
}

# Two takeovers that must be refused, the running daemon serving on (the
# guest's transfers, checked afterwards, go on through it).
refusals() {
	local log=$E2E_RUN_DIR/refused.log rc=0
	timeout -k 2 30 "$USVHOSTD" --takeover --control="$CTL" --transport=fuse \
		--mount="$E2E_DIR/elsewhere" --foreground </dev/null >"$log" 2>&1 || rc=$?
	if [ "$rc" != 0 ] && grep -q -- '--mount differs' "$log" && e2e_alive "$E2E_DAEMON_PID"; then
		e2e_pass "takeover with another --mount refused (status $rc), the running daemon serves on"
	else
		e2e_fail "takeover with another --mount: status $rc, running daemon alive: $(e2e_alive "$E2E_DAEMON_PID" && echo yes || echo no): $(tr '\n' ' ' <"$log")"
	fi
	rc=0
	timeout -k 2 30 "$USVHOSTD" --takeover --control="$E2E_DIR/nobody.sock" --foreground \
		</dev/null >"$log" 2>&1 || rc=$?
	if [ "$rc" != 0 ] && grep -q 'no usvhostd listens on' "$log"; then
		e2e_pass "takeover with no daemon listening refused (status $rc): $(grep -o 'no usvhostd.*' "$log" | head -n1)"
	else
		e2e_fail "takeover with no daemon listening: status $rc: $(tr '\n' ' ' <"$log")"
	fi
}

for ram in $E2E_UPGRADE_RAMS; do
	upgrade_run "$ram"
done
e2e_finish
