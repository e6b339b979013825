#!/bin/bash
# diagnostic: boot the nested KVM guest VM_BOOT_LOOP times (default 10) on
# the kernel's vhost_net with a small transfer, and count the boots that
# die. Not in 'make check': it measures the test VM's nested virtualization,
# not usvhost (make check-vm-boot-loop; docs/testing-vm.md).
set -eu
: "${VM_BLOB_BYTES:=65536}"
. "$top_srcdir/tests/vm/vm-lib.sh" boot-loop

vm_require_kvm
vm_modprobe tun || e2e_die "cannot load tun"
vm_kernel_vhost on
vm_tap vtap0 10.0.81.1/24
n=${VM_BOOT_LOOP:-10}
died=0
# VM_BOOT_LOOP_CHURN=1: compact the VM's memory all along, so its KVM keeps
# zapping and rebuilding the nested guest's page tables.
churn=""
if [ "${VM_BOOT_LOOP_CHURN:-0}" = 1 ]; then
	( while :; do echo 1 >/proc/sys/vm/compact_memory; echo 3 >/proc/sys/vm/drop_caches; sleep 0.2; done ) &
	churn=$!
	VM_BG_PIDS+=("$churn")
	e2e_log "memory churn running (pid $churn)"
fi
for i in $(seq 1 "$n"); do
	t0=$SECONDS
	vm_guest_start b$i vtap0 10.0.81.2/24 10.0.81.1 --rx=$((6000 + 2 * i)) --tx=$((7000 + 2 * i))
	# VM_BOOT_LOOP_MIGRATE=1: move the guest's QEMU threads between the
	# VM's CPUs every 20 ms.
	mig=""
	if [ "${VM_BOOT_LOOP_MIGRATE:-0}" = 1 ]; then
		( pid=${VM_GUEST_PID[b$i]}; c=0
		  while [ -d /proc/$pid ]; do
			for t in /proc/$pid/task/*; do taskset -p -c $c "${t##*/}" >/dev/null 2>&1; done
			c=$((1 - c)); sleep 0.02
		  done ) &
		mig=$!
	fi
	vm_guest_wait b$i 120
	if [ -n "$mig" ]; then kill "$mig" 2>/dev/null || true; wait "$mig" 2>/dev/null || true; fi
	if vm_console b$i | grep -q '^USVHOST_GUEST_EXIT=0'; then
		e2e_log "boot $i: ok ($((SECONDS - t0)) s)"
	else
		died=$((died + 1))
		e2e_log "boot $i: DIED after $((SECONDS - t0)) s; console tail:"
		vm_console b$i | tail -n 15 | sed "s/^/[$E2E_NAME]   /"
	fi
done
e2e_log "nested boots: $n, died: $died"
[ "$died" = 0 ] && e2e_pass "all $n nested boots finished" || e2e_fail "$died of $n nested boots died"
vm_kernel_vhost off
e2e_finish
