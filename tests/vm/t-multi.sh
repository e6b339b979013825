#!/bin/bash
# test: several devices: two nested guests at once, then one with queues=2
# Runs inside the test VM (tests/vm/vm-init.sh), on one usvhostd serving
# /dev/vhost-net on its CUSE front:
#  * guests a and b boot at the same time, each on its own tap and subnet,
#    and each moves its traffic (ping, 4 MiB each way, sha256 checked);
#  * guest q has -netdev tap,...,vhost=on,queues=2 (QEMU opens
#    /dev/vhost-net once per queue pair) and 2 CPUs; it runs 4 flows each
#    way, pinned to both CPUs, so both queue pairs carry traffic;
#  * usvhostd's counters, sampled while the guests run, show each guest's
#    traffic on its own devices, and the totals cover what the guests moved.
set -eu
. "$top_srcdir/tests/vm/vm-lib.sh" multi

vm_require_kvm
vm_modprobe cuse tun || e2e_die "cannot load cuse/tun"
vm_kernel_vhost off
vm_daemon_start main vhost-net
vm_stats_sampler_start

e2e_log "--- two guests at once"
vm_tap vtap1 10.0.82.1/24
vm_tap vtap2 10.0.83.1/24
t0=$SECONDS
vm_guest_start a vtap1 10.0.82.2/24 10.0.82.1 --rx=5201 --tx=5301
vm_guest_start b vtap2 10.0.83.2/24 10.0.83.1 --rx=5211 --tx=5311
vm_guest_wait a
vm_guest_wait b
e2e_log "two guests ran $((SECONDS - t0)) s"
for g in a b; do
	vm_guest_check_up "$g"
	vm_guest_check_traffic "$g"
done

e2e_log "--- one guest, queues=2"
vm_tap vtapq 10.0.84.1/24 multi_queue
t0=$SECONDS
vm_guest_start q vtapq 10.0.84.2/24 10.0.84.1 --queues=2 --smp=2 --flows=4 --rx=5401 --tx=5501
vm_guest_wait q
e2e_log "the queues=2 guest ran $((SECONDS - t0)) s"
vm_guest_check_up q
if vm_console q | grep -q '^USVHOST_NESTED_UP .* queues=2'; then
	e2e_pass "guest q: eth0 has 2 queue pairs"
else
	e2e_fail "guest q: eth0 does not have 2 queue pairs ($(vm_console q | grep -m1 '^USVHOST_NESTED_UP'))"
fi
opens=$(grep -cE 'dev [0-9]+: SET_OWNER .*-> 0 .*pid '"${VM_GUEST_PID[q]}"'\)' "$VM_DAEMON_LOG" || true)
if [ "$opens" = 2 ]; then
	e2e_pass "guest q: QEMU opened /dev/vhost-net twice (one device per queue pair)"
else
	e2e_fail "guest q: QEMU owns $opens usvhostd devices, expected 2"
fi
vm_guest_check_traffic q

vm_stats_sampler_stop
vm_daemon_stop
vm_check_counters usvhostd a:vtap1 b:vtap2 q:vtapq
devs=$(vm_stats_devs_of_tap vtapq)
if [ "$(wc -w <<<"$devs")" -ge 2 ]; then
	for d in $devs; do
		n=$(awk -v d=" $d " 'index($0, d) && / backend=tap:vtapq / { for (i = 1; i <= NF; i++) if ($i ~ /^packets=/) { v = substr($i, 9) + 0; k = $3; if (v > m[k]) m[k] = v } } END { for (k in m) s += m[k]; print s + 0 }' "$VM_DAEMON_STATS.samples")
		if [ "$n" -gt 0 ]; then
			e2e_pass "guest q: queue pair on $d moved $n packets"
		else
			e2e_fail "guest q: queue pair on $d moved no packets"
		fi
	done
else
	e2e_fail "guest q: the samples show devices '$devs' on vtapq, expected 2"
fi
[ "$E2E_FAILS" = 0 ] || { for g in a b q; do vm_guest_show_logs "$g"; done; e2e_show_file "$VM_DAEMON_LOG" 40; }
e2e_finish
