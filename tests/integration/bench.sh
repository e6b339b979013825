#!/bin/sh
# SPDX-License-Identifier: MIT
#
# usvhost-bench against usvhostd's FUSE file, 1 s per run with small frames:
# TX, RX and rr move packets, the counts match the taps' own counters (the
# program exits 1 when they do not), --json prints one object that parses
# with the same figures, --raw (the tap alone) works too, and idle reports
# the backend's CPU time with nothing moved. --layout=packed does the same on
# packed rings (the default profile offers VIRTIO_F_RING_PACKED) and exits 2,
# saying why, against a profile that does not offer it; --iommu=pt|pages
# runs behind a guest vIOMMU (the device IOTLB filled, rings and buffers
# IOVAs), on the default profile and on linux-6.1's. No figure is
# compared with any other: benchmarks print numbers, they do not gate.
#
# Everything runs inside `unshare -m -n --propagation private` (daemon-lib.sh).
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=bench.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
client=$top_builddir/src/usvhost-bench
daemon_wrapper=${USVHOST_DAEMON_WRAPPER:-}
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

enter_namespaces USVHOST_BENCH_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run bench-daemon.log usvhost-bench
ip link set lo up 2>/dev/null || true
start_daemon
out=$work/out

# Runs usvhost-bench with the arguments given (bounded); its stdout in $out.
bench() {
	echo "$me: usvhost-bench $*"
	timeout -s KILL $((20 * scale)) "$client" --secs=1 "$@" >"$out" 2>"$out.err"
	brc=$?
	cat "$out" "$out.err"
	[ "$brc" = 0 ] || fail "usvhost-bench $* exited $brc (1: no packet moved or the tap counters did not match)"
}

# A text report must say it moved packets and that the counters matched.
check_text() { # WHAT
	pk=$(awk '/ packets in / { print $1; exit }' "$out")
	case $pk in '' | *[!0-9]* | 0) fail "$1: no packets counted (got '${pk:-nothing}')" ;; esac
	grep -q 'tap counters: .*: match$' "$out" || fail "$1: no matching tap counters in the report"
}

dev=$mnt/vhost-net
bench --dev="$dev" --test=tx --size=64 --backend-pid="$dpid" && check_text "tx"
grep -q "backend CPU (pid $dpid)" "$out" || fail "tx: no backend CPU line for pid $dpid"
bench --dev="$dev" --test=rx --size=64 && check_text "rx"
bench --dev="$dev" --test=tx --size=1500 --ram=anon --guest=poll && check_text "tx anon poll"
bench --dev="$dev" --test=rr --size=64 && check_text "rr"
grep -q 'latency p50 [0-9.]* us, p99 [0-9.]* us' "$out" || fail "rr: no latency percentiles"

# Packed rings: the same runs, the same cross-check against the tap. rx at
# 9000 bytes makes frames span several buffers (num_buffers), polled, in
# anonymous RAM; two devices in --json.
bench --dev="$dev" --test=tx --size=64 --layout=packed && check_text "packed tx"
grep -q '^usvhost-bench: tx 64 bytes, .*, packed rings, guest irq, 1 device, ring 256$' "$out" ||
	fail "packed tx: the heading does not say packed rings"
bench --dev="$dev" --test=rx --size=64 --layout=packed && check_text "packed rx"
bench --dev="$dev" --test=rx --size=9000 --ram=anon --guest=poll --layout=packed &&
	check_text "packed rx 9000 anon poll"
bench --dev="$dev" --test=rr --size=64 --layout=packed && check_text "packed rr"
grep -q 'round trips: [1-9][0-9]*, 0 lost; latency p50' "$out" || fail "packed rr: no round trip, or some lost"
bench --dev="$dev" --test=tx --size=1500 --devices=2 --ring=1024 --layout=packed --json
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["test"] == "tx" and o["devices"] == 2 and o["layout"] == "packed", o
assert o["packets"] > 0 and o["match"] is True and o["counted"] == o["tap_packets"], o
' "$out" || fail "packed --json: the output does not parse or lacks the figures"
else
	grep -q '"layout":"packed",.*"match":true' "$out" || fail "packed --json: not packed with match true"
fi
# A guest vIOMMU: the device IOTLB filled with one mapping (pt) or one per
# 4 KiB page; ring and buffer addresses are then IOVAs (equal to guest
# addresses, not QEMU's), so a device that did not translate would fail
# the ring's attach. The same cross-check against the tap.
bench --dev="$dev" --test=tx --size=64 --iommu=pt && check_text "tx vIOMMU pt"
grep -q 'split rings, vIOMMU pt, ' "$out" || fail "tx vIOMMU pt: the report does not say so"
bench --dev="$dev" --test=rx --size=64 --iommu=pages --ram=anon && check_text "rx vIOMMU pages anon"
bench --dev="$dev" --test=rr --size=64 --iommu=pages --layout=packed &&
	check_text "rr vIOMMU pages packed"
"$client" --dev="$dev" --test=tx --size=65000 --ring=1024 --iommu=pages --secs=1 \
	>/dev/null 2>"$out.err"
grep -q 'more than the 2048 entries of a device IOTLB' "$out.err" ||
	fail "--iommu=pages over 2048 pages: no reason given"
"$client" --raw --test=tx --iommu=pt >/dev/null 2>"$out.err"
[ $? = 2 ] || fail "usvhost-bench --raw --iommu=pt must exit 2"

"$client" --raw --test=tx --layout=packed >/dev/null 2>"$out.err"
[ $? = 2 ] || fail "usvhost-bench --raw --layout=packed must exit 2"
grep -q 'not with --raw' "$out.err" || fail "--raw --layout=packed: no reason given"

bench --raw --test=tx --size=64 && check_text "raw tx"
bench --raw --test=rx --size=64 && check_text "raw rx"

# --json: one object, with packets moved and the cross-check true.
bench --dev="$dev" --test=rx --size=64 --devices=2 --json
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["test"] == "rx" and o["devices"] == 2, o
assert o["packets"] > 0 and o["match"] is True, o
assert o["counted"] == o["tap_packets"], o
assert o["backend"] is not None and o["backend"]["cpu_s"] >= 0, o
' "$out" || fail "--json: the output does not parse or lacks the figures"
else
	echo "$me: note: no python3, --json is checked for one line only"
	if [ "$(wc -l <"$out")" != 1 ] || ! grep -q '"match":true' "$out"; then
		fail "--json: not one object with match true"
	fi
fi

# idle: devices set up, nothing sent; the report gives the backend's CPU
# time (total and per device) and says nothing moved. The figure itself is
# not judged.
bench --dev="$dev" --test=idle --devices=3 --backend-pid="$dpid"
grep -q '^usvhost-bench: idle, .*, 3 devices, ring 256, RX buffers posted$' "$out" ||
	fail "idle: no heading line for 3 devices"
grep -q "^  [0-9.]* s idle: backend CPU (pid $dpid): [0-9.]* ms = [0-9.]* % of one core$" "$out" ||
	fail "idle: no backend CPU line for pid $dpid"
grep -q '^  per device: [0-9.]* ms = [0-9.]* % of one core$' "$out" ||
	fail "idle: no per-device line"
grep -q '^  moved: 0 used entries; tap counters: 0 frames from the backend, 0 to it$' "$out" ||
	fail "idle: something moved, or no line saying what moved"
bench --dev="$dev" --test=idle --devices=2 --ram=anon --json
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["test"] == "idle" and o["devices"] == 2 and o["ram"] == "anon", o
assert o["secs"] >= 1, o
b = o["backend"]
assert b is not None and not b["kernel"] and b["cpu_ms"] >= 0, o
assert abs(b["per_device_ms"] * 2 - b["cpu_ms"]) < 0.01, o
assert abs(b["core_pct"] - b["cpu_ms"] / 10 / o["secs"]) < 0.01, o
assert o["used"] == 0 and o["tap_in"] == 0 and o["tap_out"] == 0, o
' "$out" || fail "idle --json: the output does not parse or lacks the figures"
else
	grep -q '^{"test":"idle",.*"backend":{"pid":[0-9]*,.*"cpu_ms":' "$out" ||
		fail "idle --json: not one object with the backend's CPU"
fi
"$client" --raw --test=idle >/dev/null 2>"$out.err"
[ $? = 2 ] || fail "usvhost-bench --raw --test=idle must exit 2"
grep -q 'not with --raw' "$out.err" || fail "--raw --test=idle: no reason given"

# Usage errors exit 2 and say why; --help exits 0.
"$client" --test=tx >/dev/null 2>&1
[ $? = 2 ] || fail "usvhost-bench without --dev or --raw must exit 2"
"$client" --help | grep -q -- '--test=tx|rx|rr|idle' || fail "--help does not describe --test"

"$client" --help | grep -q -- '--layout=split|packed' || fail "--help does not describe --layout"
"$client" --help | grep -q -- '--iommu=none|pt|pages' || fail "--help does not describe --iommu"

stop_daemon
check_daemon_log 'sanitizer|runtime error|segmentation|assert' \
	"the daemon log reports a crash or sanitizer error"

# A profile without VIRTIO_F_RING_PACKED (Linux 6.1's vhost_net): packed is
# refused with status 2 and the reason; split still runs there.
start_daemon --profile=linux-6.1
echo "$me: usvhost-bench --layout=packed against --profile=linux-6.1"
timeout -s KILL $((20 * scale)) "$client" --dev="$dev" --test=tx --secs=1 --layout=packed \
	>"$out" 2>"$out.err"
brc=$?
cat "$out" "$out.err"
[ "$brc" = 2 ] || fail "--layout=packed without VIRTIO_F_RING_PACKED exited $brc, expected 2"
grep -q 'without VIRTIO_F_RING_PACKED (bit 34)' "$out.err" || fail "packed refused: no reason given"
[ -s "$out" ] && fail "packed refused: a report was printed anyway"
bench --dev="$dev" --test=tx --size=64 && check_text "split tx on linux-6.1"
bench --dev="$dev" --test=tx --size=64 --iommu=pt && check_text "tx vIOMMU pt on linux-6.1"
stop_daemon
check_daemon_log 'sanitizer|runtime error|segmentation|assert' \
	"the daemon log reports a crash or sanitizer error (linux-6.1 profile)"
finish
