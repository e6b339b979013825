#!/bin/bash
# test: nested KVM guest, plain vhost=on, on usvhostd's CUSE /dev/vhost-net
# Runs inside the test VM (tests/vm/vm-init.sh): the full user story.
#  * the kernel's vhost_net is unloaded; usvhostd --transport=cuse
#    --name=vhost-net serves /dev/vhost-net;
#  * unmodified qemu-system-x86_64 -accel kvm -cpu qemu64 with
#    -netdev tap,...,vhost=on (no vhostfd, no wrapper) opens it itself; its
#    guest's virtio-net reaches DRIVER_OK; QEMU prints no vhost warning and
#    traces vhost_dev_start; usvhostd answered QEMU's whole sequence with 0;
#  * datapath: the guest pings the VM and moves 4 MiB each way over TCP with
#    matching sha256 sums; usvhostd's per-ring counters (--stats) account for
#    the packets, and QEMU itself popped only control-queue elements.
set -eu
. "$top_srcdir/tests/vm/vm-lib.sh" guest-usvhost

vm_require_kvm
vm_modprobe cuse tun || e2e_die "cannot load cuse/tun"
vm_kernel_vhost off
vm_daemon_start main vhost-net

vm_tap vtap0 10.0.81.1/24
t0=$SECONDS
vm_stats_sampler_start
vm_guest_start u vtap0 10.0.81.2/24 10.0.81.1
vm_guest_wait u
vm_stats_sampler_stop
e2e_log "guest run took $((SECONDS - t0)) s"

e2e_log "--- control plane: bring-up through the CUSE node"
vm_guest_check_up u
# QEMU's ioctl sequence, each answered 0 (tests/lib/e2e-lib.sh reads
# $E2E_RUN_DIR/daemon.log).
E2E_RUN_DIR=$VM_WORK/seq
mkdir -p "$E2E_RUN_DIR"
ln -s "$VM_DAEMON_LOG" "$E2E_RUN_DIR/daemon.log"
e2e_check_qemu72_sequence
opener=$(grep -m1 -E 'dev [0-9]+: SET_OWNER .*-> 0' "$VM_DAEMON_LOG" | sed -n 's/.*(tid \([0-9]*\) pid \([0-9]*\)).*/\2/p')
if [ -n "$opener" ] && [ "$opener" = "${VM_GUEST_PID[u]}" ]; then
	e2e_pass "QEMU itself (pid $opener) opened and owns the device: plain vhost=on, no vhostfd"
else
	e2e_fail "SET_OWNER came from pid '${opener:-none}', QEMU is ${VM_GUEST_PID[u]}"
fi

e2e_log "--- datapath: packets through usvhostd"
vm_guest_check_traffic u
vm_daemon_stop
vm_check_counters usvhostd u:vtap0
if grep -qE 'dev [0-9]+: vq [0-9]+ (rx|tx): packets=' "$VM_DAEMON_LOG"; then
	grep -E 'dev [0-9]+: vq [0-9]+ (rx|tx): packets=' "$VM_DAEMON_LOG" | sed "s/^/[$E2E_NAME]   daemon log: /"
fi
[ "$E2E_FAILS" = 0 ] || { vm_guest_show_logs u; e2e_show_file "$VM_DAEMON_LOG" 40; }
e2e_finish
