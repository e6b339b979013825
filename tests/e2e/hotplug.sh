#!/usr/bin/env bash
# Hot-plug through usvhostd with unmodified QEMU, one guest (TCG, 2 CPUs,
# memfd RAM, -m 512M,slots=8,maxmem=4G) booted without a NIC and driven over
# QMP (tests/lib/qmp-plug.py). Rounds, one after the other:
#  1. NIC: the test opens the tap and MOUNT/vhost-net itself, hands the fds to
#     QEMU with getfd, netdev_add tap,fd=,vhost=on,vhostfd= and device_add
#     virtio-net-pci; the guest brings it up, pings both ways and moves
#     checksummed data both ways; device_del (DEVICE_DELETED), netdev_del.
#  2. the same with queues=2 (multi_queue tap, fds=/vhostfds=, mq=on).
#  3. DIMMs: a NIC again, and three pc-dimm (memory-backend-memfd) added while
#     transfers run; the guest onlines them and goes on moving checksummed
#     data (its buffers now in the new memory); usvhostd's trace shows each
#     SET_MEM_TABLE with one region more, accepted while both rings ran.
#  4. the limit: a second usvhostd with --max-mem-regions at the size of the
#     current table serves a new NIC; one DIMM more is answered E2BIG (the
#     kernel's answer), QEMU prints "vhost_set_mem_table failed" and goes on,
#     the rings keep the old table and the guest (which leaves the new memory
#     offline) keeps moving checksummed data.
# After each unplug the daemon released the device(s) (log, trace) and its
# fd count is back to its baseline; the rings ran in usvhostd (its per-ring
# counters, QEMU's vhost_dev_start and no data-ring kick handled by QEMU).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=240}" # s, the whole guest run
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=4}"
QMP_PLUG=$top_srcdir/tests/lib/qmp-plug.py
MAC=52:54:00:12:34:56
DIMM_BYTES=$((128 << 20))

e2e_require_host
command -v "$PYTHON" >/dev/null 2>&1 || e2e_die "$PYTHON missing: QMP and the tap queues are driven by tests/lib/qmp-plug.py"
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
GUEST_MARKS=1
MIB=$E2E_XFER_MIB
GUEST
cat >>"$E2E_DIR/guest.sh" <<'GUEST'
# Wait at most SECS for a virtio-net device to be present or gone.
nic_wait() { # present|gone SECS
	i=0
	while :; do
		if guest_virtio_net_dev >/dev/null 2>&1; then now=present; else now=gone; fi
		[ "$now" = "$1" ] && return 0
		i=$((i + 1))
		[ "$i" -le $(($2 * 10)) ] || { echo "guest: virtio-net still $now after $2 s"; return 1; }
		sleep 0.1
	done
}
# A hot-plugged NIC: probed, up, pinged both ways.
nic_up() { # ROUND
	nic_wait present 60 || return 1
	i=0
	until d=$(guest_virtio_net_dev 2>/dev/null) && guest_iface_of "$d" >/dev/null 2>&1 &&
		guest_check_driver_ok "$d" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le 100 ] || break
		sleep 0.1
	done
	guest_net_up 10.0.77.2/24 || return 1
	echo "USVHOST_NIC_UP round=$1 iface=$GUEST_IFACE queues=$(ls -d /sys/class/net/$GUEST_IFACE/queues/rx-* | wc -l)"
	guest_ping_host || return 1
	guest_wait_pinged 3 20 || return 1
}
nic_down() { # ROUND
	echo "USVHOST_ROUND_DONE round=$1"
	nic_wait gone 60 || return 1
	echo "USVHOST_NIC_GONE round=$1"
}
online_memory() {
	for f in /sys/devices/system/memory/memory*/state; do
		[ "$(cat "$f")" = offline ] || continue
		echo online >"$f" && echo "USVHOST_ONLINE ${f%/state}"
	done
}
offline_blocks() { grep -l offline /sys/devices/system/memory/memory*/state 2>/dev/null | wc -l; }

echo "USVHOST_MEMINFO auto_online=$(cat /sys/devices/system/memory/auto_online_blocks 2>/dev/null) blocks=$(ls -d /sys/devices/system/memory/memory* | wc -l) total_kb=$(awk '/MemTotal/ { print $2 }' /proc/meminfo)"
# 1: one queue pair
nic_up 1 || exit 1
guest_transfer 5101 $MIB 5102 || exit 1
nic_down 1 || exit 1
# 2: two queue pairs, a flow each way on each CPU
nic_up 2 || exit 1
guest_mkdata /tmp/g2h-5201 $MIB && guest_mkdata /tmp/g2h-5203 $MIB || exit 1
guest_send 5201 /tmp/g2h-5201 0 & p1=$!
guest_recv 5202 /tmp/h2g-5202 0 & p2=$!
guest_send 5203 /tmp/g2h-5203 1 & p3=$!
guest_recv 5204 /tmp/h2g-5204 1 & p4=$!
rc=0
for p in $p1 $p2 $p3 $p4; do wait $p || rc=1; done
rm -f /tmp/g2h-* /tmp/h2g-*
guest_vq_interrupts
[ $rc = 0 ] || exit 1
nic_down 2 || exit 1
# 3: DIMMs added while data moves (the host adds one at each "begin" of
# 5311, 5321, 5331); onlined as they come
nic_up 3 || exit 1
b0=$(ls -d /sys/devices/system/memory/memory* | wc -l)
( while [ ! -e /tmp/stop-online ]; do online_memory; sleep 0.2; done ) & onliner=$!
for k in 1 2 3; do
	guest_transfer 53${k}1 $MIB 53${k}2 || exit 1
done
# Each 128 MiB DIMM is one memory block (x86-64's block size).
i=0
until [ "$(ls -d /sys/devices/system/memory/memory* | wc -l)" -ge $((b0 + 3)) ] &&
	[ "$(offline_blocks)" = 0 ]; do
	i=$((i + 1))
	[ "$i" -le 200 ] || { echo "guest: $(ls -d /sys/devices/system/memory/memory* | wc -l) memory blocks, $(offline_blocks) offline after 20 s"; exit 1; }
	sleep 0.1
done
touch /tmp/stop-online
wait $onliner
echo "USVHOST_MEMINFO blocks=$(ls -d /sys/devices/system/memory/memory* | wc -l) offline=$(offline_blocks) total_kb=$(awk '/MemTotal/ { print $2 }' /proc/meminfo)"
# Buffers in the new memory: the kernel allocates from it first (ZONE_NORMAL).
guest_transfer 5341 $MIB 5342 || exit 1
nic_down 3 || exit 1
# 4: a DIMM the daemon refuses (E2BIG); its memory is left offline
nic_up 4 || exit 1
b0=$(ls -d /sys/devices/system/memory/memory* | wc -l)
echo "USVHOST_READY_FOR_DIMM blocks=$b0"
i=0
until [ "$(ls -d /sys/devices/system/memory/memory* | wc -l)" -gt "$b0" ]; do
	i=$((i + 1))
	[ "$i" -le 600 ] || { echo "guest: no new memory block within 60 s"; exit 1; }
	sleep 0.1
done
echo "USVHOST_MEMINFO blocks=$(ls -d /sys/devices/system/memory/memory* | wc -l) offline=$(offline_blocks)"
guest_transfer 5401 $MIB 5402 || exit 1
nic_down 4 || exit 1
# Power off only when the host says (a NIC without a backend plugged):
# QEMU sends DEVICE_DELETED after an RCU grace period, which may come after
# the guest saw the NIC go, and a QEMU that exits never sends it.
echo "USVHOST_WAIT_END"
nic_wait present 60 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24" multi_queue

e2e_traffic_begin hotplug --trace="$E2E_DIR/hotplug/trace.json"
RUN=$E2E_RUN_DIR
CON=$RUN/console.log
QMP=$RUN/qmp.sock
D1_PID=$E2E_DAEMON_PID D1_MNT=$E2E_MNT D1_LOG=$RUN/daemon.log D1_TRACE=$RUN/trace.json
D2_PID="" D2_LOG="" D2_TRACE=""

hp_cleanup() {
	local rc=$?
	set +e
	[ -z "$D2_PID" ] || e2e_kill_bounded "$D2_PID" "second usvhostd"
	(exit "$rc")
	e2e_cleanup
}
trap hp_cleanup EXIT

hp_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

hp_qmp() { # STEP ARGS...: QMP step, its error text in $RUN/qmp.err
	timeout -k 2 60 "$PYTHON" "$QMP_PLUG" "$QMP" "$@" 2>"$RUN/qmp.err"
}

# Wait for a console line (a regex), bounded; the run stops if it never comes.
hp_wait_console() { # REGEX SECS WHAT
	local deadline=$((SECONDS + $2))
	until grep -aqE -- "$1" "$CON"; do
		local ended=0
		e2e_alive "$E2E_QEMU_PID" || ended=1
		! grep -aq '^USVHOST_GUEST_EXIT=' "$CON" || ended=2
		# The line may have come just before the end: look once more.
		! grep -aqE -- "$1" "$CON" || break
		[ "$ended" != 1 ] || e2e_die "QEMU exited while waiting for $3"
		[ "$ended" != 2 ] ||
			e2e_die "the guest script ended while waiting for $3: $(grep -a '^guest:' "$CON" | tr -d '\r' | tail -n 3 | tr '\n' ' ')"
		[ "$SECONDS" -lt "$deadline" ] || e2e_die "no '$1' on the console within $2 s ($3)"
		sleep 0.2
	done
}

# Bounded wait for a condition (a command); WHAT names it for the reader.
hp_until() { # SECS WHAT COMMAND...
	local deadline=$((SECONDS + $1))
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

hp_released() { # LOG FROM-LINE COUNT
	[ "$(tail -n +"$2" "$1" | grep -cE 'dev [0-9]+: release \(' || true)" -ge "$3" ]
}
hp_fds_are() { [ "$(hp_fds "$1")" = "$2" ]; }

# Per-ring counters the daemon logged when the round's rings stopped:
# "DEV VQ BYTES" for log lines from FROM-LINE on.
hp_round_counters() { # LOG FROM-LINE
	tail -n +"$2" "$1" | sed -nE 's/.*dev ([0-9]+): vq ([01]) (rx|tx): packets=[0-9]+ bytes=([0-9]+).*/\1 \2 \4/p'
}

# SET_MEM_TABLE records of a trace, with the rings running at the time:
# "SEQ NREGIONS RET ERRNO RUNNING-RINGS".
hp_mem_tables() { # TRACE
	"$PYTHON" - "$1" <<'PY'
import json, sys
running = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    t, d = r.get("type"), r.get("dev")
    if t == "attach":
        running.setdefault(d, set()).add(r["index"])
    elif t in ("detach", "release"):
        running.setdefault(d, set()).discard(r.get("index"))
        if t == "release":
            running[d] = set()
    elif t == "ioctl" and r.get("ioctl") == "SET_MEM_TABLE":
        print(r["seq"], r.get("in", {}).get("nregions"), r["ret"], r.get("errno", "-"),
              len(running.get(d, ())))
PY
}

# One NIC round: plug, the guest's traffic, unplug, release, fds, counters.
hp_nic_round() { # ROUND QUEUES DAEMON-PID MNT LOG BASELINE-FDS
	local r=$1 queues=$2 pid=$3 mnt=$4 log=$5 base=$6 from starts0 counters d q b
	from=$(($(wc -l <"$log") + 1))
	starts0=$(grep -c '^vhost_dev_start' "$RUN/qemu.trace" 2>/dev/null || true)
	hp_qmp plug-nic "nic$r" --tap=usvtap0 --queues="$queues" --vhost="$mnt/vhost-net" --mac=$MAC ||
		e2e_die "round $r: plugging the NIC: $(cat "$RUN/qmp.err")"
	e2e_pass "round $r: netdev_add (vhostfd from getfd, queues=$queues) and device_add answered"
	if [ "${HP_HOOK:-}" ]; then "$HP_HOOK"; fi
	hp_wait_console "^USVHOST_ROUND_DONE round=$r" 150 "round $r's traffic"
	n=$(grep -aoE "^USVHOST_NIC_UP round=$r .*queues=[0-9]+" "$CON" | sed 's/.*queues=//')
	[ "$n" = "$queues" ] && e2e_pass "round $r: the guest's interface has $n queue(s)" ||
		e2e_fail "round $r: the guest's interface has ${n:-no} queues, want $queues"
	n=$(grep -c '^vhost_dev_start' "$RUN/qemu.trace" 2>/dev/null || true)
	[ "$((n - starts0))" -ge "$queues" ] && e2e_pass "round $r: QEMU started vhost $((n - starts0))x" ||
		e2e_fail "round $r: vhost_dev_start traced $((n - starts0))x, want $queues"
	hp_qmp unplug-nic "nic$r" --timeout=30 ||
		e2e_die "round $r: unplugging the NIC: $(cat "$RUN/qmp.err")"
	e2e_pass "round $r: device_del (DEVICE_DELETED) and netdev_del answered"
	if hp_until 10 release hp_released "$log" "$from" "$queues"; then
		e2e_pass "round $r: usvhostd released $queues device(s): $(tail -n +"$from" "$log" | grep -oE 'dev [0-9]+: release \([0-9]+ open\)' | tr '\n' ' ')"
	else
		e2e_fail "round $r: usvhostd logged $(tail -n +"$from" "$log" | grep -cE 'dev [0-9]+: release \(' || true) releases within 10 s, want $queues"
	fi
	if hp_until 10 fds hp_fds_are "$pid" "$base"; then
		e2e_pass "round $r: usvhostd's fd count back to its baseline ($base)"
	else
		e2e_fail "round $r: usvhostd holds $(hp_fds "$pid") fds, baseline $base"
		ls -l "/proc/$pid/fd" | sed 's/^/    /'
	fi
	counters=$(hp_round_counters "$log" "$from")
	for ((d = 0; d < queues; d++)); do
		for q in 0 1; do
			b=$(awk -v d="$d" -v q="$q" '$1 == d && $2 == q { print $3 }' <<<"$counters" | tail -n1)
			if [ "${b:-0}" -ge $((E2E_XFER_MIB << 18)) ]; then
				e2e_pass "round $r: usvhostd dev $d vq $q carried $b bytes"
			else
				e2e_fail "round $r: usvhostd dev $d vq $q carried ${b:-no} bytes, want >= $((E2E_XFER_MIB << 18))"
			fi
		done
	done
	hp_wait_console "^USVHOST_NIC_GONE round=$r" 60 "the NIC of round $r to go"
}

for port in 5101 5201 5203 5311 5321 5331 5341 5401; do e2e_flow_g2h "$port"; done
for port in 5102 5202 5204 5312 5322 5332 5342 5402; do e2e_flow_h2g "$port" "$E2E_XFER_MIB"; done
e2e_ping_guest

T0=$SECONDS
# shellcheck disable=SC2054 # commas are QEMU's option syntax
args=(-accel tcg -smp 2 -m "$E2E_MEM,slots=8,maxmem=4G" -nodefaults -display none -no-reboot
	-chardev stdio,id=con0,mux=on -serial chardev:con0 -mon chardev=con0,mode=readline
	-qmp "unix:$QMP,server=on,wait=off"
	-kernel "$USVHOST_VMLINUZ" -initrd "$E2E_DIR/initrd.gz"
	-append "console=ttyS0 panic=-1 quiet"
	-object "memory-backend-memfd,id=mem,size=$E2E_MEM,share=on" -machine memory-backend=mem
	-trace vhost_dev_start -trace vhost_dev_stop -trace virtio_queue_notify -D "$RUN/qemu.trace")
printf '%q ' "$QEMU" "${args[@]}" >"$RUN/qemu.cmd"
(exec </dev/null >"$CON" 2>"$RUN/qemu.err"; exec "$QEMU" "${args[@]}") &
E2E_QEMU_PID=$!
hp_until 10 qmp test -S "$QMP" || e2e_die "QEMU's QMP socket $QMP did not appear"
D1_BASE=$(hp_fds "$D1_PID")
e2e_log "usvhostd's fds before any plug: $D1_BASE"

e2e_log "=== round 1: NIC, 1 queue pair"
hp_nic_round 1 1 "$D1_PID" "$D1_MNT" "$D1_LOG" "$D1_BASE"
e2e_log "=== round 2: NIC, 2 queue pairs"
hp_nic_round 2 2 "$D1_PID" "$D1_MNT" "$D1_LOG" "$D1_BASE"
irq=$(grep -a '^USVHOST_IRQ' "$CON" | tr -d '\r' | tail -n1)
for q in 0 1; do
	n=$(grep -oE "virtio[0-9]+-input\.$q=[0-9]+" <<<"$irq" | cut -d= -f2)
	[ "${n:-0}" -gt 0 ] && e2e_pass "round 2: guest rx queue $q interrupted $n times" ||
		e2e_fail "round 2: guest rx queue $q had no interrupt (${irq:-no USVHOST_IRQ line})"
done

e2e_log "=== round 3: DIMMs added while data moves"
hp_dimms() {
	local k
	for k in 1 2 3; do
		hp_wait_console "^USVHOST_MARK begin port=53${k}1" 120 "transfer $k of round 3"
		hp_qmp add-dimm "dimm$k" --size="$DIMM_BYTES" ||
			e2e_die "adding DIMM $k: $(cat "$RUN/qmp.err")"
		e2e_pass "round 3: DIMM $k (memory-backend-memfd, 128 MiB) added during a transfer"
	done
}
t3=$(grep -c '' "$D1_TRACE")
HP_HOOK=hp_dimms hp_nic_round 3 1 "$D1_PID" "$D1_MNT" "$D1_LOG" "$D1_BASE"
e2e_log "guest memory: $(grep -a '^USVHOST_MEMINFO' "$CON" | tr -d '\r' | tr '\n' ';')"
e2e_log "guest onlined: $(grep -ac '^USVHOST_ONLINE' "$CON" || true) block(s)"
tail -n +"$((t3 + 1))" "$D1_TRACE" >"$RUN/trace-round3.json"
hp_mem_tables "$RUN/trace-round3.json" >"$RUN/memtables-round3"
e2e_log "round 3 SET_MEM_TABLE (seq nregions ret errno running-rings): $(tr '\n' ';' <"$RUN/memtables-round3")"
# After the start's table, one accepted table per DIMM, one region more each,
# sent while both rings ran.
mapfile -t grown < <(awk '$5 == 2' "$RUN/memtables-round3")
ok=1
if [ "${#grown[@]}" -lt 3 ]; then ok=0; fi
first=$(awk '$3 == 0 { print $2; exit }' "$RUN/memtables-round3")
for ((k = 0; k < ${#grown[@]}; k++)); do
	read -r _ n ret _ _ <<<"${grown[$k]}"
	[ "$ret" = 0 ] && [ "$n" = $((first + k + 1)) ] || ok=0
done
if [ "$ok" = 1 ]; then
	e2e_pass "round 3: usvhostd accepted SET_MEM_TABLE with $((first + 1)), $((first + 2)), $((first + 3)) regions while both rings ran"
else
	e2e_fail "round 3: want 3 accepted SET_MEM_TABLE with one region more each after $first, with 2 rings running"
fi
K=$(awk '$3 == 0 { n = $2 } END { print n }' "$RUN/memtables-round3")

e2e_log "=== round 4: a second usvhostd with --max-mem-regions=$K, one DIMM more"
saved_dir=$E2E_RUN_DIR
E2E_RUN_DIR=$RUN/d2
mkdir -p "$E2E_RUN_DIR"
e2e_start_daemon --max-mem-regions="$K" --trace="$E2E_RUN_DIR/trace.json"
D2_PID=$E2E_DAEMON_PID D2_MNT=$E2E_MNT D2_LOG=$E2E_RUN_DIR/daemon.log D2_TRACE=$E2E_RUN_DIR/trace.json
E2E_RUN_DIR=$saved_dir E2E_DAEMON_PID=$D1_PID E2E_MNT=$D1_MNT
if grep -q "\"max_mem_regions\":$K\b" "$D2_TRACE" && grep -q "at most $K memory regions per device" "$D2_LOG"; then
	e2e_pass "second usvhostd: its trace header and log say max_mem_regions $K"
else
	e2e_fail "second usvhostd: max_mem_regions $K not in its trace header and log"
fi
D2_BASE=$(hp_fds "$D2_PID")
hp_dimm4() {
	hp_wait_console "^USVHOST_READY_FOR_DIMM" 60 "round 4's NIC"
	if hp_qmp add-dimm dimm4 --size="$DIMM_BYTES"; then
		e2e_pass "round 4: QEMU took DIMM 4 (its own limit is 64 without /sys/module/vhost)"
	else
		e2e_fail "round 4: adding DIMM 4: $(cat "$RUN/qmp.err")"
	fi
}
HP_HOOK=hp_dimm4 hp_nic_round 4 1 "$D2_PID" "$D2_MNT" "$D2_LOG" "$D2_BASE"
hp_mem_tables "$D2_TRACE" >"$RUN/memtables-round4"
e2e_log "round 4 SET_MEM_TABLE (seq nregions ret errno running-rings): $(tr '\n' ';' <"$RUN/memtables-round4")"
if awk -v k="$K" '$2 == k + 1 && $3 == -1 && $4 == "E2BIG" && $5 == 2 { f = 1 } END { exit !f }' "$RUN/memtables-round4" &&
	! awk -v k="$K" '$2 > k && $3 == 0 { f = 1 } END { exit !f }' "$RUN/memtables-round4"; then
	e2e_pass "round 4: SET_MEM_TABLE with $((K + 1)) regions answered E2BIG while both rings ran, none above $K accepted"
else
	e2e_fail "round 4: want SET_MEM_TABLE with $((K + 1)) regions answered E2BIG with 2 rings running"
fi
if grep -qE "SET_MEM_TABLE.*-> -E2BIG" "$D2_LOG"; then
	e2e_pass "round 4: the daemon's log: $(grep -m1 -oE 'SET_MEM_TABLE.*-> -E2BIG' "$D2_LOG")"
else
	e2e_fail "round 4: no SET_MEM_TABLE -> -E2BIG in the daemon's log"
fi
if grep -q 'ring error\|ring_error' "$D2_LOG" "$D1_LOG"; then
	e2e_fail "a ring error: $(grep -h 'ring error\|ring_error' "$D2_LOG" "$D1_LOG" | head -n 2)"
else
	e2e_pass "no ring error in either daemon"
fi
if grep -aq '^USVHOST_MEMINFO blocks=[0-9]* offline=1$' <(tr -d '\r' <"$CON"); then
	e2e_pass "round 4: the guest saw the new memory and left it offline"
else
	e2e_fail "round 4: the guest's memory: $(grep -a '^USVHOST_MEMINFO' "$CON" | tail -n1)"
fi

hp_wait_console '^USVHOST_WAIT_END' 60 "the guest's last step"
hp_qmp device_add '{"driver": "virtio-net-pci", "id": "end"}' >/dev/null ||
	e2e_die "adding the end signal (a NIC without a backend): $(cat "$RUN/qmp.err")"
hp_wait_console '^USVHOST_GUEST_EXIT=' 60 "the guest to power off"
if e2e_wait_pid "$E2E_QEMU_PID" 20; then E2E_QEMU_RC=$E2E_WAIT_RC; else
	e2e_kill_bounded "$E2E_QEMU_PID" qemu || true
	E2E_QEMU_RC=124
fi
E2E_QEMU_PID=""
e2e_traffic_end "$T0"
e2e_log "QEMU's stderr: $(tr '\n' ';' <"$RUN/qemu.err")"
want="vhost_set_mem_table failed: Argument list too long (7)"
if grep -qF "$want" "$RUN/qemu.err"; then
	e2e_pass "round 4: QEMU said '$(grep -m1 -F "$want" "$RUN/qemu.err")'"
else
	e2e_fail "round 4: QEMU's stderr lacks '$want'"
fi
other=$(grep -vF "$want" "$RUN/qemu.err" || true)
if [ -z "$other" ]; then
	e2e_pass "QEMU printed nothing else (no fallback to userspace virtio)"
else
	e2e_fail "QEMU printed: $(head -n 3 <<<"$other" | tr '\n' ';')"
fi
[ "$E2E_QEMU_RC" = 0 ] && e2e_pass "QEMU exited 0" || e2e_fail "QEMU exit status $E2E_QEMU_RC"
e2e_check_console '^USVHOST_TRAFFIC_DONE'
n=$(grep -ac '^USVHOST_PING_HOST ok' "$CON" || true)
m=$(grep -ac '^USVHOST_PINGED' "$CON" || true)
[ "$n" = 4 ] && [ "$m" = 4 ] && e2e_pass "pings both ways in all 4 rounds" ||
	e2e_fail "pings: guest to host ok in $n rounds, host to guest in $m, want 4"
e2e_check_flows
e2e_check_vhost_started
# The kicks up to the last vhost_dev_stop: the end signal is a NIC without
# a backend, whose rings QEMU serves itself.
mkdir -p "$RUN/vhost-part"
awk '{ l[NR] = $0 } /^vhost_dev_stop/ { last = NR } END { for (i = 1; i <= last; i++) print l[i] }' \
	"$RUN/qemu.trace" >"$RUN/vhost-part/qemu.trace"
E2E_RUN_DIR=$RUN/vhost-part e2e_check_no_qemu_datapath 1
E2E_DAEMON_PID=$D2_PID E2E_MNT=$D2_MNT
e2e_stop_daemon
[ "$E2E_DAEMON_RC" = 0 ] && e2e_pass "second usvhostd exited 0" || e2e_fail "second usvhostd: $E2E_DAEMON_RC"
D2_PID=""
E2E_DAEMON_PID=$D1_PID E2E_MNT=$D1_MNT
e2e_check_daemon_stop
e2e_log "whole run: $((SECONDS - T0)) s"
e2e_run_end
e2e_finish
