#!/bin/bash
# bench: the kernel's vhost_net versus usvhostd's CUSE node, same boot (scripts/bench-vm.sh)
# Not a test: it prints figures, and 'vm-run.sh all' leaves it out (no
# "test:" line). Runs inside the test VM (tests/vm/vm-init.sh), started by
# scripts/bench-vm.sh, which leaves its parameters in RESULTS/bench.env:
#   BENCH_SECS  seconds per run          BENCH_RUNS  runs per figure
#   BENCH_RAMS  "memfd anon"             BENCH_CASES "tx:64 tx:1500 rx:64 rx:1500 rr:64"
#   BENCH_GUEST irq|poll                 BENCH_DEVICES devices per run
#   BENCH_IOMMUS "none" (or "none pt", ...: usvhost-bench --iommu, each in turn)
#   BENCH_PROFILE 1: then, for BENCH_PROFILE_CASES (default "tx:64 rx:64")
#     and each RAM kind, one more run with usvhostd under strace -c: its
#     system calls per packet (RESULTS/bench/profile/). perf is of no use
#     here: in this TCG VM its cpu-clock samples land almost all in the idle
#     loop while the CPUs are busy (seen: 92-96 % native_safe_halt).
# The kernel's vhost_net holds /dev/vhost-net, usvhostd serves
# /dev/usvhost-net; every case runs on the kernel, then on usvhostd, then on
# the kernel again..., so a slow moment of the machine hits both alike. One
# JSON line per run goes to RESULTS/bench/results.jsonl, what the VM is to
# RESULTS/bench/vm.env.
set -eu
. "$top_srcdir/tests/vm/vm-lib.sh" bench

BENCH_SECS=3 BENCH_RUNS=3 BENCH_RAMS="memfd anon" BENCH_GUEST=irq BENCH_DEVICES=1
BENCH_CASES="tx:64 tx:1500 rx:64 rx:1500 rr:64"
BENCH_PROFILE=0 BENCH_PROFILE_CASES="tx:64 rx:64" BENCH_IOMMUS=none
# shellcheck disable=SC1091
[ ! -f "$VM_RESULTS/bench.env" ] || . "$VM_RESULTS/bench.env"

bench=$top_builddir/src/usvhost-bench
[ -x "$bench" ] || e2e_die "$bench not built"
vm_modprobe cuse tun || e2e_die "cannot load cuse/tun"
vm_kernel_vhost on
# info, not debug: the figures must not pay for a log line per ioctl.
vm_daemon_start main usvhost-net --log-level=info

{
	printf 'VM_KERNEL=%q\n' "$(uname -r)"
	printf 'VM_CPUS=%q\n' "$(nproc)"
	printf 'VM_CPU_MODEL=%q\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	printf 'VM_MEM_MIB=%q\n' "$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)"
	printf 'VM_DAEMON_VERSION=%q\n' "$("$USVHOSTD" --version 2>&1 | head -n 1)"
} >"$VM_OUT/vm.env"

results=$VM_OUT/results.jsonl
: >"$results"
ncase=$(wc -w <<<"$BENCH_CASES") nram=$(wc -w <<<"$BENCH_RAMS")
niommu=$(wc -w <<<"$BENCH_IOMMUS")
total=$((BENCH_RUNS * ncase * nram * niommu * 2)) n=0 failed=0
for run in $(seq "$BENCH_RUNS"); do
	for ram in $BENCH_RAMS; do
		for c in $BENCH_CASES; do
			test=${c%%:*} size=${c#*:}
			for iommu in $BENCH_IOMMUS; do
				for backend in kernel usvhostd; do
					n=$((n + 1))
					if [ "$backend" = kernel ]; then
						args=(--dev=/dev/vhost-net)
					else
						args=(--dev=/dev/usvhost-net --backend-pid="$VM_DAEMON_PID")
					fi
					rc=0
					line=$(cd /tmp && timeout -s KILL $((BENCH_SECS + 40)) "$bench" "${args[@]}" \
						--test="$test" --size="$size" --ram="$ram" --guest="$BENCH_GUEST" \
						--iommu="$iommu" --devices="$BENCH_DEVICES" --secs="$BENCH_SECS" --json \
						2>"$VM_OUT/err.txt") || rc=$?
					what="$backend $test $size $ram iommu $iommu"
					case $line in
					'{'*)
						echo "{\"backend\":\"$backend\",\"run\":$run,\"rc\":$rc,\"r\":$line}" >>"$results"
						e2e_log "[$n/$total] run $run $what: $(sed -E 's/.*"pps":([0-9]+).*"ns_per_packet":([0-9.]+).*/\1 pps, \2 ns\/packet/' <<<"$line")$( [ "$rc" = 0 ] || echo " (exit $rc)")"
						;;
					*)
						failed=$((failed + 1))
						echo "{\"backend\":\"$backend\",\"run\":$run,\"rc\":$rc,\"failed\":true,\"test\":\"$test\",\"size\":$size,\"ram\":\"$ram\",\"iommu\":\"$iommu\"}" >>"$results"
						e2e_log "[$n/$total] run $run $what: FAILED (exit $rc)"
						;;
					esac
					if [ -s "$VM_OUT/err.txt" ]; then
						sed "s/^/[$E2E_NAME]   /" "$VM_OUT/err.txt"
						sed "s/^/run $run $what: /" "$VM_OUT/err.txt" >>"$VM_OUT/notes.txt"
					fi
				done
			done
		done
	done
done
rm -f "$VM_OUT/err.txt"

# ---- where the time goes (optional) -------------------------------------------
# One run in the background; its JSON line in $VM_OUT/profile/NAME.json.
bench_bg() { # NAME BACKEND TEST SIZE RAM
	local -a args=(--dev=/dev/vhost-net)
	[ "$2" = kernel ] || args=(--dev=/dev/usvhost-net --backend-pid="$VM_DAEMON_PID")
	(cd /tmp && timeout -s KILL $((BENCH_SECS + 40)) "$bench" "${args[@]}" --test="$3" \
		--size="$4" --ram="$5" --guest="$BENCH_GUEST" --secs="$BENCH_SECS" --json \
		>"$prof/$1.json" 2>"$prof/$1.err") &
	BENCH_BG=$!
}
# Packets a profiled run counted (its "counted" field).
bench_counted() { sed -n 's/.*"counted":\([0-9]*\).*/\1/p' "$prof/$1.json"; }
if [ "$BENCH_PROFILE" = 1 ]; then
	prof=$VM_OUT/profile
	mkdir -p "$prof"
	for ram in $BENCH_RAMS; do
		for c in $BENCH_PROFILE_CASES; do
			test=${c%%:*} size=${c#*:} name=$test-$size-$ram
			# System calls of usvhostd per packet (strace slows it: the
			# count per packet is the figure, not the rate).
			strace -c -S calls -f -q -p "$VM_DAEMON_PID" -o "$prof/strace-$name.txt" &
			spid=$!
			sleep 1
			bench_bg "strace-$name" usvhostd "$test" "$size" "$ram"
			wait "$BENCH_BG" || true
			kill -INT "$spid" 2>/dev/null
			wait "$spid" 2>/dev/null || true
			calls=$(awk '$NF == "total" { print $4 }' "$prof/strace-$name.txt" 2>/dev/null)
			pkts=$(bench_counted "strace-$name")
			if [ -n "$calls" ] && [ "${pkts:-0}" -gt 0 ]; then
				e2e_log "profile $name: usvhostd made $calls system calls for $pkts packets; per packet: $(awk -v p="$pkts" 'NR > 2 && $NF != "total" && $1 ~ /^[0-9.]+$/ { printf "%s %.2f, ", $NF, $4 / p }' "$prof/strace-$name.txt" | head -c 300)"
			else
				e2e_log "profile $name: no strace count (see $prof/strace-$name.txt)"
			fi
		done
	done
fi
vm_daemon_stop
vm_kernel_vhost off
if [ "$failed" = 0 ]; then
	e2e_pass "$total runs, none failed"
else
	e2e_fail "$failed of $total runs failed (RESULTS/bench/notes.txt says why)"
fi
e2e_finish
