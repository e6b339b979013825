#!/bin/bash
# test: reference: nested KVM guest, plain vhost=on, on the kernel's vhost_net
# Runs inside the test VM (tests/vm/vm-init.sh). The same guest, QEMU
# command and checks as guest-usvhost, with the kernel's vhost_net holding
# /dev/vhost-net: what usvhostd's run is compared against.
set -eu
. "$top_srcdir/tests/vm/vm-lib.sh" guest-kernel

vm_require_kvm
vm_modprobe tun || e2e_die "cannot load tun"
vm_kernel_vhost on
e2e_pass "the kernel's vhost_net holds /dev/vhost-net ($(stat -c 'char %t:%T' /dev/vhost-net))"

vm_tap vtap0 10.0.81.1/24
t0=$SECONDS
vm_guest_start k vtap0 10.0.81.2/24 10.0.81.1
# Evidence of the kernel's datapath: its vhost-<qemu pid> worker threads.
workers=""
for _ in $(seq 1 100); do
	workers=$(grep -l '^vhost-' /proc/[0-9]*/comm 2>/dev/null | wc -l)
	[ "$workers" -gt 0 ] && break
	sleep 0.3
done
vm_guest_wait k
e2e_log "guest run took $((SECONDS - t0)) s; kernel vhost worker threads seen: $workers"
vm_guest_check_up k
vm_guest_check_traffic k
[ "$E2E_FAILS" = 0 ] || vm_guest_show_logs k
vm_kernel_vhost off
e2e_finish
