#!/usr/bin/env bash
# Live migration through usvhostd with unmodified QEMU: a source QEMU runs the
# guest, a destination QEMU with the same configuration waits with -incoming,
# both served by ONE usvhostd. Over QMP the test migrates the guest while a
# checksummed TCP transfer runs each way; the transfers finish on the
# destination with the right sha256 and pings work afterwards. Run for both
# kinds of guest RAM (anonymous, QEMU's default, and memory-backend-memfd).
#
# Host to guest is the direction that needs the dirty log: usvhostd writes
# the frames into guest RAM behind QEMU's back, so only the bits it sets in
# QEMU's log (VHOST_F_LOG_ALL, SET_LOG_BASE, VHOST_VRING_F_LOG) make QEMU send
# those pages again. The proof is a page comparison: the destination waits
# paused (-S) after the migration, and every page of its RAM that holds
# host-to-guest data or a used ring must equal the stopped source's (QMP
# pmemsave; compare_ram says why not every page); then it runs and finishes
# the transfers.
# The negative control runs the same migration on usvhostd-nolog, a
# test-only build that leaves RX buffer writes out of the log: pages must
# differ (and the host-to-guest sha256 usually does too; reported, not
# asserted). The migration is slowed to 32 MiB/s so that its first pass
# over RAM lasts a few seconds of RX writes.
#
# Upgrade without the guest noticing, with what exists today (usvhostd has no
# --takeover yet): the same migration to a destination QEMU served by a
# SECOND usvhostd (the "new" daemon), after which the old daemon is stopped
# while the transfers still run; they finish through the new one
# (docs/operations.md).
#
# Tunables: E2E_MIG_UPGRADE=0 skips the upgrade run; E2E_MIG_NEGATIVE=0 skips the negative control; E2E_MIG_RAMS
# ("anon memfd"; empty: none); E2E_MIG_H2G_MIB / E2E_MIG_G2H_MIB (4 / 2): transfer sizes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=150}" # s, one guest's whole life (boot, migration, transfers)
: "${E2E_MEM:=256M}"         # less RAM to copy: a shorter migration under TCG
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_MIG_RAMS=anon memfd}"
: "${E2E_MIG_NEGATIVE:=1}"
: "${E2E_MIG_UPGRADE:=1}"
: "${E2E_MIG_H2G_MIB:=4}"
: "${E2E_MIG_G2H_MIB:=2}"
: "${USVHOSTD_NOLOG:=$top_builddir/tests/e2e/usvhostd-nolog}"
QMP=("$PYTHON" "$top_srcdir/tests/lib/qmp.py")

e2e_require_host
command -v "$PYTHON" >/dev/null 2>&1 || e2e_skip "$PYTHON missing (the QMP client)"
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

# Both transfers paced in the guest (64 KiB per 0.25 s, about 250 KiB/s):
# they last longer than the migration whatever the host's speed, and the
# test checks that each began on the source and ended on the destination.
cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
GUEST_XFER_TIMEOUT=120
GUEST_MARKS=1
guest_net_up 10.0.77.2/24 || exit 1
guest_ping_host || exit 1
guest_mkdata /tmp/g2h $E2E_MIG_G2H_MIB || exit 1
guest_send_paced 5001 /tmp/g2h 64 0.25 &
g2h=\$!
guest_recv_paced 5002 /tmp/h2g 64 0.25 || rc=1
wait \$g2h || rc=1
[ -z "\${rc:-}" ] || exit 1
echo USVHOST_MIGRATED_XFERS_DONE
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"

# The network a real host gives two QEMUs of one guest: a tap each (a tap
# that is not multiqueue takes one opener at a time), both in a bridge that
# holds the host's address. The guest's MAC moves from one port to the other
# when the destination announces it (QEMU's self-announce after migration).
ip link add usvbr0 type bridge forward_delay 0 stp_state 0
ip addr add "$E2E_HOST_IP/24" dev usvbr0
ip link set usvbr0 up
e2e_make_tap usvtap0
e2e_make_tap usvtap1
ip link set usvtap0 master usvbr0
ip link set usvtap1 master usvbr0

# Wait at most SECS for REGEX in FILE.
wait_for_line() { # FILE REGEX SECS
	local deadline=$((SECONDS + $3))
	until grep -aq -- "$2" "$1" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# QMP command on QEMU TAG (src or dst); its answer on stdout.
qmp() { # TAG COMMAND [JSON]
	timeout -k 2 30 "${QMP[@]}" "$E2E_RUN_DIR/qmp-$1.sock" "${@:2}"
}

# A running field of query-status.
qmp_status() { # TAG
	qmp "$1" query-status | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["status"])'
}

# Migrate a guest with RAM kind RAM from one QEMU to the other while it
# streams both ways; usvhostd is DAEMON. Sets MIG_STATUS (the last
# query-migrate answer) and leaves the run's files in $E2E_RUN_DIR, the
# consoles joined in console.log.
migrate_run() { # NAME RAM DAEMON [SECS for the guest to finish]
	local name=$1 ram=$2 t0 src dst wait=${4:-$E2E_QEMU_TIMEOUT}
	local -a common
	USVHOSTD=$3 e2e_traffic_begin "$name"
	e2e_flow_g2h 5001
	e2e_flow_h2g 5002 "$E2E_MIG_H2G_MIB"
	e2e_ping_guest
	common=(--vhost="$E2E_VHOST" --initrd="$E2E_DIR/initrd.gz" --ram="$ram" --background)
	t0=$SECONDS
	e2e_boot_guest "${common[@]}" --tag=src --tap=usvtap0 -- -trace virtio_queue_notify \
		-qmp "unix:$E2E_RUN_DIR/qmp-src.sock,server=on,wait=off"
	src=$E2E_BG_PID
	# The upgrade run: the destination opens the new daemon's device.
	E2E_MNT=${MIG_NEW_MNT:-$E2E_MNT} e2e_boot_guest "${common[@]}" --tag=dst --tap=usvtap1 -- \
		-trace virtio_queue_notify -qmp "unix:$E2E_RUN_DIR/qmp-dst.sock,server=on,wait=off" \
		-incoming "unix:$E2E_RUN_DIR/migrate.sock" -S
	dst=$E2E_BG_PID
	MIG_STATUS="" RAM_DIFF=""
	if ! wait_for_line "$E2E_RUN_DIR/console-src.log" '^USVHOST_MARK begin port=5002' 90; then
		e2e_fail "the guest did not start its transfers on the source within 90 s"
	else
		sleep 2 # the transfers are under way, usvhostd writing to the guest
		e2e_log "migrating (guest up $((SECONDS - t0)) s)"
		# 32 MiB/s: the first pass over RAM takes a few seconds, while
		# usvhostd keeps writing frames into RX buffers, some in pages that
		# pass has sent already: only the dirty log makes QEMU send those
		# again. A downtime QEMU meets at once after that pass.
		qmp src migrate-set-parameters '{"max-bandwidth": 33554432, "downtime-limit": 500}' >/dev/null ||
			e2e_fail "migrate-set-parameters failed"
		qmp src migrate "{\"uri\": \"unix:$E2E_RUN_DIR/migrate.sock\"}" >/dev/null ||
			e2e_fail "QMP migrate failed"
		MIG_STATUS=$(timeout -k 2 100 "${QMP[@]}" "$E2E_RUN_DIR/qmp-src.sock" wait-migration 90) ||
			e2e_fail "migration did not complete: $MIG_STATUS"
		DST_MIG=$(timeout -k 2 40 "${QMP[@]}" "$E2E_RUN_DIR/qmp-dst.sock" wait-migration 30) ||
			e2e_fail "the destination did not complete the incoming migration: $DST_MIG"
		e2e_log "query-migrate: $MIG_STATUS"
		echo "$MIG_STATUS" >"$E2E_RUN_DIR/migrate.json"
		SRC_STATE=$(qmp_status src || echo unknown)
		DST_PAUSED=$(qmp_status dst || echo unknown)
		compare_ram
		qmp dst cont >/dev/null || e2e_fail "QMP cont on the destination failed"
		DST_STATE=$(qmp_status dst || echo unknown)
		qmp src quit >/dev/null || true
	fi
	e2e_wait_pid "$src" 10 || e2e_kill_bounded "$src" "source QEMU" || true
	SRC_RC=${E2E_WAIT_RC:-?}
	if [ -n "${MIG_NEW_MNT:-}" ]; then
		# The old daemon goes while the guest still streams through
		# the new one.
		OLD_STOPPED_MIDWAY=yes
		grep -aq '^USVHOST_MARK end port=5002' "$E2E_RUN_DIR/console-dst.log" 2>/dev/null &&
			OLD_STOPPED_MIDWAY=no
		e2e_log "stopping the old usvhostd (transfers still running: $OLD_STOPPED_MIDWAY)"
		e2e_check_daemon_stop
	fi
	# The guest finishes on the destination and powers off.
	if e2e_wait_pid "$dst" "$wait"; then
		E2E_QEMU_RC=$E2E_WAIT_RC
	else
		e2e_log "destination QEMU did not finish within $wait s; killing it"
		e2e_kill_bounded "$dst" "destination QEMU" || true
		E2E_QEMU_RC=124
	fi
	E2E_BG_QEMU_PIDS=()
	e2e_traffic_end "$t0"
	cat "$E2E_RUN_DIR/console-src.log" "$E2E_RUN_DIR/console-dst.log" >"$E2E_RUN_DIR/console.log"
}

# The page comparison: the destination waits paused (-S) after the
# migration, the source is stopped; neither's RAM changes, and usvhostd
# writes to neither (their rings are stopped, or not started yet). Every
# page usvhostd writes must be the same in both (QMP pmemsave of all guest
# RAM): a differing page counts against usvhostd when either copy holds
# host-to-guest data (a frame addressed to the guest, or 32-byte pieces of
# the stream the host sent: what usvhostd's RX writes put in guest RAM) or
# a used ring. Other differing
# pages are reported, not counted: they hold the guest kernel's own data
# (kernel counters and timestamps one step ahead on the source), which
# QEMU 7.2's TCG now and then does not send again; usvhostd never writes
# such data (docs/migration.md: about 1 migration in 12, 1 to 7
# pages; the destination guest may then crash: qemu_lost_pages). Sets
# RAM_DIFF to the number of differing pages usvhostd could have written and
# RAM_DIFF_GUEST to the others, and logs the first of each.
compare_ram() {
	local bytes out
	bytes=$(numfmt --from=iec "$E2E_MEM")
	RAM_DIFF="" RAM_DIFF_GUEST=""
	if ! qmp src pmemsave "{\"val\": 0, \"size\": $bytes, \"filename\": \"$E2E_DIR/ram-src\"}" >/dev/null ||
		! qmp dst pmemsave "{\"val\": 0, \"size\": $bytes, \"filename\": \"$E2E_DIR/ram-dst\"}" >/dev/null; then
		e2e_fail "QMP pmemsave failed"
		return 0
	fi
	out=$("$PYTHON" - "$E2E_DIR/ram-src" "$E2E_DIR/ram-dst" "$E2E_RUN_DIR/h2g-5002.data" \
		"$E2E_RUN_DIR/daemon.log" <<-'PY'
		import os, re, sys
		src, dst, stream, log = sys.argv[1:5]
		data = open(stream, "rb").read()
		# (no daemon with vhost=off: QEMU's own virtio-net writes RX)
		text = open(log, errors="replace").read() if os.path.exists(log) else ""
		# The used rings usvhostd writes: SET_VRING_ADDR's log= is the
		# used ring's guest-physical address; 6 + 8 * num bytes long.
		num = max([int(n) for n in re.findall(r"SET_VRING_NUM index=\d+ num=(\d+) -> 0", text)] or [32768])
		used = set()
		for a in re.findall(r"SET_VRING_ADDR .*?log=0x([0-9a-f]+) -> 0", text):
		    a = int(a, 16)
		    used.update(range(a >> 12, ((a + 6 + 8 * num - 1) >> 12) + 1))
		# A frame usvhostd wrote: an Ethernet header addressed to the
		# guest (QEMU's default MAC; the tests set none) carrying IPv4,
		# ARP or IPv6; or a piece of the stream the host sent.
		frame = re.compile(rb"\x52\x54\x00\x12\x34\x56.{6}(?:\x08\x00|\x08\x06|\x86\xdd)", re.S)
		def holds_rx(page):
		    return frame.search(page) is not None or \
		        any(data.find(page[o:o + 32]) >= 0 for o in range(0, 4096 - 32, 128))
		mine, guest, n = [], [], 0
		with open(src, "rb") as a, open(dst, "rb") as b:
		    while True:
		        x, y = a.read(4096), b.read(4096)
		        if not x and not y:
		            break
		        if x != y:
		            if n in used or holds_rx(x) or holds_rx(y):
		                mine.append(n)
		            else:
		                guest.append(n)
		        n += 1
		def first(p):
		    return " ".join(hex(i << 12) for i in p[:8]) or "-"
		print(len(mine), len(guest), first(mine), "|", first(guest))
	PY
	) || e2e_fail "cannot compare the RAM dumps"
	rm -f "$E2E_DIR/ram-src" "$E2E_DIR/ram-dst"
	read -r RAM_DIFF RAM_DIFF_GUEST out <<<"$out"
	e2e_log "RAM of source and destination after the migration: $RAM_DIFF pages with host-to-guest frames or data or a used ring differ (${out%% |*}); $RAM_DIFF_GUEST other pages differ (${out##*| })"
	[ "${RAM_DIFF_GUEST:-0}" = 0 ] ||
		e2e_log "note: $RAM_DIFF_GUEST differing pages hold only guest kernel data: the source's vCPU wrote them and QEMU's TCG did not send them again (not usvhostd's writes; not counted)"
}

# QEMU's TCG now and then loses pages of guest kernel data (compare_ram):
# the destination guest then runs on corrupted memory (it may panic or
# hang), and what it does after the switch-over proves nothing about
# usvhostd. Such a run says so loudly and its after-migration guest checks
# are not counted; every check of usvhostd's own pages, ioctls and release
# still is. If every migration was hit, nothing end to end was proven: fail.
MIG_RUNS=0 MIG_LOST_RUNS=0
qemu_lost_pages() {
	MIG_RUNS=$((MIG_RUNS + 1))
	[ "${RAM_DIFF_GUEST:-0}" -gt 0 ] || return 1
	MIG_LOST_RUNS=$((MIG_LOST_RUNS + 1))
	e2e_log "WARNING: QEMU (TCG) lost $RAM_DIFF_GUEST pages of guest kernel data in this migration, pages usvhostd never wrote (docs/migration.md): the destination guest runs on corrupted memory, so this run's checks of the guest after the switch-over are NOT COUNTED"
	return 0
}

# Where a flow's begin and end marks are: begun on the source, ended on the
# destination means it ran across the migration.
check_spans() { # PORT
	if grep -aq "^USVHOST_MARK begin port=$1" "$E2E_RUN_DIR/console-src.log" &&
		grep -aq "^USVHOST_MARK end port=$1" "$E2E_RUN_DIR/console-dst.log"; then
		e2e_pass "flow on port $1 began on the source and ended on the destination"
	else
		e2e_fail "flow on port $1 did not run across the migration (begin on source: $(grep -ac "begin port=$1" "$E2E_RUN_DIR/console-src.log"), end on destination: $(grep -ac "end port=$1" "$E2E_RUN_DIR/console-dst.log"))"
	fi
}

# The dirty log reached usvhostd while the source's rings ran: features with
# VHOST_F_LOG_ALL (bit 26), a log base, rings with VHOST_VRING_F_LOG, each
# answered 0, all after the rings were started (NET_SET_BACKEND).
check_log_ioctls() {
	local log=$E2E_RUN_DIR/daemon.log start l
	start=$(grep -nE 'NET_SET_BACKEND.*index=1\b.*fd[= ]?[0-9]' "$log" | head -n1 | cut -d: -f1)
	l=$(grep -nE 'SET_FEATURES 0x[0-9a-f]+ -> 0' "$log" |
		while IFS=: read -r n rest; do
			f=$(grep -oE 'SET_FEATURES 0x[0-9a-f]+' <<<"$rest" | cut -d' ' -f2)
			[ $((f >> 26 & 1)) = 0 ] || { echo "$n"; break; }
		done)
	if [ -n "$start" ] && [ -n "$l" ] && [ "$l" -gt "$start" ]; then
		e2e_pass "SET_FEATURES with VHOST_F_LOG_ALL answered 0 while the rings ran (log line $l > $start)"
	else
		e2e_fail "no SET_FEATURES with VHOST_F_LOG_ALL after the rings started (rings at line ${start:-none}, LOG_ALL at ${l:-none})"
	fi
	l=$(grep -nE 'SET_LOG_BASE.*-> 0' "$log" | head -n1 | cut -d: -f1)
	if [ -n "$start" ] && [ -n "$l" ] && [ "$l" -gt "$start" ]; then
		e2e_pass "SET_LOG_BASE answered 0 while the rings ran: $(sed -n "${l}p" "$log" | grep -o 'SET_LOG_BASE.*')"
	else
		e2e_fail "no SET_LOG_BASE answered 0 after the rings started"
	fi
	e2e_check_ioctl SET_VRING_ADDR 2 'flags=0x1\b'
}

# QEMU TAG exited with RC and said nothing about vhost.
check_qemu() { # TAG RC
	if [ "$2" = 0 ]; then
		e2e_pass "$1 QEMU exited 0"
	else
		e2e_fail "$1 QEMU exit status $2"
	fi
	if grep -Eiq 'vhost|falling back|userspace virtio|migration' "$E2E_RUN_DIR/qemu-$1.err"; then
		e2e_fail "$1 QEMU complained: $(grep -Ei 'vhost|falling back|userspace virtio|migration' "$E2E_RUN_DIR/qemu-$1.err" | head -n 3 | tr '\n' ' ')"
	else
		e2e_pass "nothing about vhost or migration on $1 QEMU's stderr"
	fi
}

for ram in $E2E_MIG_RAMS; do
	e2e_log "=== migrate a $ram-RAM guest while it streams both ways"
	migrate_run "mig-$ram" "$ram" "$USVHOSTD"
	if grep -q '"status": "completed"' <<<"$MIG_STATUS"; then
		e2e_pass "query-migrate: completed ($(grep -oE '"(total-time|downtime)": [0-9]+' <<<"$MIG_STATUS" | tr '\n' ' '| sed 's/"//g') ms)"
	else
		e2e_fail "query-migrate did not end completed: ${MIG_STATUS:-no answer}"
	fi
	if [ "$RAM_DIFF" = 0 ]; then
		e2e_pass "guest RAM identical on source and destination after the migration (every page holding host-to-guest data or a used ring)"
	else
		e2e_fail "guest RAM differs between source and destination after the migration: ${RAM_DIFF:-not compared} pages holding host-to-guest data or a used ring"
	fi
	lost=no
	qemu_lost_pages && lost=yes
	if [ "$lost" = no ]; then
		if [ "${SRC_STATE:-}" = postmigrate ] && [ "${DST_PAUSED:-}" = paused ] && [ "${DST_STATE:-}" = running ]; then
			e2e_pass "after migration: source $SRC_STATE (stopped), destination $DST_PAUSED, then (cont) $DST_STATE"
		else
			e2e_fail "after migration: source ${SRC_STATE:-unknown}, destination ${DST_PAUSED:-unknown} then ${DST_STATE:-unknown}; want postmigrate, paused then running"
		fi
		check_spans 5001
		check_spans 5002
		e2e_check_console '^USVHOST_TRAFFIC_DONE'
		e2e_check_flows
		e2e_check_pings
		if sed -n '/^USVHOST_MIGRATED_XFERS_DONE/,$p' "$E2E_RUN_DIR/console-dst.log" | grep -aq '^USVHOST_PING_HOST ok'; then
			e2e_pass "the guest pinged the host from the destination"
		else
			e2e_fail "no ping from the destination after the transfers"
		fi
		check_qemu dst "$E2E_QEMU_RC"
	fi
	check_qemu src "$SRC_RC"
	if [ "$E2E_VHOST" = off ]; then
		e2e_log "E2E_VHOST=off: QEMU moved the packets (plumbing check only, nothing about usvhostd)"
		e2e_run_end
		continue
	fi
	for tag in src dst; do
		if grep -q '^vhost_dev_start' "$E2E_RUN_DIR/qemu-$tag.trace" 2>/dev/null; then
			e2e_pass "$tag QEMU started vhost (trace vhost_dev_start)"
		else
			e2e_fail "$tag QEMU never started vhost (no vhost_dev_start in qemu-$tag.trace)"
		fi
	done
	e2e_check_no_qemu_datapath 1 "$E2E_RUN_DIR/qemu-src.trace"
	[ "$lost" = yes ] || e2e_check_no_qemu_datapath 1 "$E2E_RUN_DIR/qemu-dst.trace"
	check_log_ioctls
	e2e_check_daemon_stop
	# Two devices, the source's and the destination's, one after the other.
	[ "$lost" = yes ] || e2e_check_counters 2
	e2e_run_end
done

# The "new" usvhostd of the upgrade run, on its own FUSE mount.
start_new_daemon() { # RUN-DIR
	local deadline=$((SECONDS + 10))
	mkdir -p "$1"
	MIG_NEW_MNT=$1/mnt-new
	E2E_MOUNTS+=("$MIG_NEW_MNT")
	"$USVHOSTD" --transport=fuse --mount="$MIG_NEW_MNT" --foreground --log-level=debug \
		--stats="$1/stats-new" </dev/null >"$1/daemon-new.log" 2>&1 &
	MIG_NEW_PID=$!
	until e2e_is_mounted "$MIG_NEW_MNT"; do
		e2e_alive "$MIG_NEW_PID" || e2e_die "the new usvhostd exited before mounting $MIG_NEW_MNT"
		[ "$SECONDS" -lt "$deadline" ] || e2e_die "the new usvhostd did not mount $MIG_NEW_MNT"
		sleep 0.05
	done
	e2e_log "new usvhostd (pid $MIG_NEW_PID) serving $MIG_NEW_MNT/vhost-net"
}

# Bytes of ring VQ in a --stats file (its final lines, written at exit).
stats_bytes() { # FILE VQ
	awk -v q="vq=$2" '$0 ~ q" " { for (i = 1; i <= NF; i++) if ($i ~ /^bytes=/) b = substr($i, 7) }
		END { print b + 0 }' "$1" 2>/dev/null
}

if [ "$E2E_MIG_UPGRADE" = 1 ] && [ "$E2E_VHOST" = on ]; then
	e2e_log "=== upgrade: migrate a memfd-RAM guest to a QEMU on a second usvhostd, stop the first"
	start_new_daemon "$E2E_DIR/mig-upgrade" # migrate_run's run dir
	migrate_run mig-upgrade memfd "$USVHOSTD"
	if grep -q '"status": "completed"' <<<"$MIG_STATUS"; then
		e2e_pass "query-migrate: completed (to the QEMU on the new usvhostd)"
	else
		e2e_fail "query-migrate did not end completed: ${MIG_STATUS:-no answer}"
	fi
	[ "$RAM_DIFF" = 0 ] && e2e_pass "guest RAM identical on source and destination after the migration (pages holding host-to-guest data or a used ring)" ||
		e2e_fail "guest RAM differs after the migration: ${RAM_DIFF:-not compared} pages holding host-to-guest data or a used ring"
	lost=no
	qemu_lost_pages && lost=yes
	check_qemu src "$SRC_RC"
	if [ "$lost" = no ]; then
		check_spans 5001
		check_spans 5002
		e2e_check_console '^USVHOST_TRAFFIC_DONE'
		e2e_check_flows
		e2e_check_pings
		check_qemu dst "$E2E_QEMU_RC"
		if grep -q '^vhost_dev_start' "$E2E_RUN_DIR/qemu-dst.trace" 2>/dev/null &&
			grep -qE 'dev [0-9]+: SET_MEM_TABLE .*-> 0' "$E2E_RUN_DIR/daemon-new.log"; then
			e2e_pass "the destination QEMU started vhost on the new usvhostd"
		else
			e2e_fail "the destination QEMU did not start vhost on the new usvhostd"
		fi
		e2e_check_no_qemu_datapath 1 "$E2E_RUN_DIR/qemu-dst.trace"
		if [ "${OLD_STOPPED_MIDWAY:-}" = yes ]; then
			e2e_pass "the old usvhostd was stopped while the host-to-guest transfer still ran"
		else
			e2e_fail "the host-to-guest transfer had ended before the old usvhostd was stopped (${OLD_STOPPED_MIDWAY:-not stopped}): the run proves less"
		fi
	fi
	if grep -q 'stopping: 0 devices still open' "$E2E_RUN_DIR/daemon.log"; then
		e2e_pass "the old usvhostd had released the source's device when it stopped"
	else
		e2e_fail "the old usvhostd still held devices at its stop: $(grep -m1 'stopping:' "$E2E_RUN_DIR/daemon.log")"
	fi
	kill -TERM "$MIG_NEW_PID" 2>/dev/null || true
	if e2e_wait_pid "$MIG_NEW_PID" 10 && [ "$E2E_WAIT_RC" = 0 ]; then
		e2e_pass "the new usvhostd exited 0 on SIGTERM"
	else
		e2e_kill_bounded "$MIG_NEW_PID" "new usvhostd" || true
		e2e_fail "the new usvhostd exit status on SIGTERM: ${E2E_WAIT_RC:-killed}"
	fi
	old_rx=$(stats_bytes "$E2E_RUN_DIR/stats" 0) old_tx=$(stats_bytes "$E2E_RUN_DIR/stats" 1)
	new_rx=$(stats_bytes "$E2E_RUN_DIR/stats-new" 0) new_tx=$(stats_bytes "$E2E_RUN_DIR/stats-new" 1)
	e2e_log "ring bytes: old daemon rx $old_rx tx $old_tx, new daemon rx $new_rx tx $new_tx"
	if [ "$lost" = yes ]; then
		: # the guest after the switch-over: not counted (qemu_lost_pages)
	elif [ "$new_rx" -gt 0 ] && [ "$new_tx" -gt 0 ] && [ "$old_rx" -gt 0 ] && [ "$old_tx" -gt 0 ]; then
		e2e_pass "both daemons carried the guest's traffic in turn (old rx/tx $old_rx/$old_tx, new $new_rx/$new_tx bytes)"
	else
		e2e_fail "each daemon should have carried traffic both ways: old rx/tx $old_rx/$old_tx, new $new_rx/$new_tx"
	fi
	if [ "$lost" = yes ]; then
		:
	elif [ $((old_tx + new_tx)) -ge "$E2E_G2H_BYTES" ] && [ $((old_rx + new_rx)) -ge "$E2E_H2G_BYTES" ]; then
		e2e_pass "together they moved all of it: tx $((old_tx + new_tx)) >= $E2E_G2H_BYTES, rx $((old_rx + new_rx)) >= $E2E_H2G_BYTES"
	else
		e2e_fail "together short of the traffic: tx $((old_tx + new_tx)) (want >= $E2E_G2H_BYTES), rx $((old_rx + new_rx)) (want >= $E2E_H2G_BYTES)"
	fi
	MIG_NEW_MNT=""
	e2e_run_end
fi

if [ "$E2E_MIG_NEGATIVE" = 1 ] && [ "$E2E_VHOST" = on ]; then
	e2e_log "=== negative control: the same migration (anonymous RAM) on usvhostd-nolog"
	[ -x "$USVHOSTD_NOLOG" ] || e2e_die "$USVHOSTD_NOLOG missing (make check builds it)"
	# A healthy guest is done in about 30 s after the switch-over; a broken
	# one may hang.
	migrate_run mig-nolog anon "$USVHOSTD_NOLOG" 60
	fails=$E2E_FAILS
	e2e_check_flows >"$E2E_RUN_DIR/flows.out" 2>&1 || true
	E2E_FAILS=$fails # a failed flow check is what this run expects
	sed 's/^/(expected here) /' "$E2E_RUN_DIR/flows.out"
	if ! grep -q '"status": "completed"' <<<"$MIG_STATUS"; then
		e2e_fail "negative control: the migration did not complete, so it proves nothing: $MIG_STATUS"
	elif [ -n "$RAM_DIFF" ] && [ "$RAM_DIFF" -gt 0 ]; then
		e2e_pass "negative control: without the RX dirty log $RAM_DIFF pages of guest RAM holding host-to-guest data differ after the migration; host-to-guest transfer: $(grep '^h2g' "$E2E_RUN_DIR/flows")"
	else
		e2e_fail "negative control: with RX writes left out of the dirty log the destination's RAM still matched the source's (${RAM_DIFF:-not compared} pages differ): the test cannot see a missing log"
	fi
	e2e_stop_daemon
	e2e_run_end
fi
if [ "$MIG_RUNS" -gt 0 ] && [ "$MIG_LOST_RUNS" = "$MIG_RUNS" ]; then
	e2e_fail "QEMU lost guest kernel pages in every migration ($MIG_LOST_RUNS of $MIG_RUNS): no guest was seen going on after the switch-over"
elif [ "$MIG_LOST_RUNS" -gt 0 ]; then
	e2e_log "WARNING: $MIG_LOST_RUNS of $MIG_RUNS migrations lost guest kernel pages in QEMU; their guest checks after the switch-over were not counted"
fi
e2e_finish
