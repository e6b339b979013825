#!/usr/bin/env bash
# Multiqueue through usvhostd: a 2-queue tap (IFF_MULTI_QUEUE) whose queues
# this test opens itself, passed to unmodified QEMU as
#   -netdev tap,fds=10:11,vhost=on,vhostfds=20:21 (two opens of MOUNT/vhost-net)
#   -device virtio-net-pci,mq=on,vectors=6, -smp 2
# so usvhostd serves two devices, one per queue pair. The guest runs four
# parallel flows, one each way pinned to each CPU (XPS maps CPU i to tx queue
# i, and the tap steers a flow's replies to the queue it came from), each of
# E2E_XFER_MIB (32) MiB with matching sha256. Both queue pairs must carry
# traffic: the guest's per-queue interrupts, and usvhostd's per-ring counters
# on both devices. E2E_VHOST=off: the same with QEMU's own virtio-net.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=150}" # s, one guest run: boot, data, transfers
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=32}"

e2e_require_host
command -v "$PYTHON" >/dev/null 2>&1 || e2e_die "$PYTHON missing: the multiqueue tap is opened by tests/lib/tap-queues.py"
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up 10.0.77.2/24 || exit 1
echo "USVHOST_MQ cpus=\$(nproc) rxqs=\$(ls -d /sys/class/net/\$GUEST_IFACE/queues/rx-* | wc -l) txqs=\$(ls -d /sys/class/net/\$GUEST_IFACE/queues/tx-* | wc -l)"
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_mkdata /tmp/g2h-5001 $E2E_XFER_MIB && guest_mkdata /tmp/g2h-5003 $E2E_XFER_MIB || exit 1
guest_send 5001 /tmp/g2h-5001 0 & p1=\$!
guest_recv 5002 /tmp/h2g-5002 0 & p2=\$!
guest_send 5003 /tmp/g2h-5003 1 & p3=\$!
guest_recv 5004 /tmp/h2g-5004 1 & p4=\$!
rc=0
for p in \$p1 \$p2 \$p3 \$p4; do wait \$p || rc=1; done
guest_vq_interrupts
[ \$rc = 0 ] && echo USVHOST_TRAFFIC_DONE
exit \$rc
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24" multi_queue

e2e_log "=== 2 queue pairs, vhost=$E2E_VHOST, 4 parallel flows of $E2E_XFER_MIB MiB"
e2e_traffic_begin mq
for port in 5001 5003; do e2e_flow_g2h $port; done
for port in 5002 5004; do e2e_flow_h2g $port "$E2E_XFER_MIB"; done
e2e_ping_guest
e2e_traffic_boot --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram=memfd --queues=2 \
	-- -smp 2
con=$E2E_RUN_DIR/console.log
if grep -aq '^USVHOST_MQ cpus=2 rxqs=2 txqs=2' "$con"; then
	e2e_pass "guest has 2 CPUs and 2 rx/tx queues"
else
	e2e_fail "guest: $(grep -a '^USVHOST_MQ' "$con" | tr -d '\r' || echo 'no USVHOST_MQ line'), want cpus=2 rxqs=2 txqs=2"
fi
irq=$(grep -a '^USVHOST_IRQ' "$con" | tr -d '\r' | tail -n1)
e2e_log "guest virtqueue interrupts: ${irq#USVHOST_IRQ }"
for q in 0 1; do
	n=$(grep -oE "virtio[0-9]+-input\.$q=[0-9]+" <<<"$irq" | cut -d= -f2)
	if [ "${n:-0}" -gt 0 ]; then
		e2e_pass "guest rx queue $q interrupted $n times"
	else
		e2e_fail "guest rx queue $q had no interrupt (${n:-no line})"
	fi
done
if [ "$E2E_VHOST" = on ]; then
	n=$(grep -c '^vhost_dev_start' "$E2E_RUN_DIR/qemu.trace" || true)
	if [ "$n" -ge 2 ]; then
		e2e_pass "QEMU started vhost on both queue pairs (vhost_dev_start ${n}x)"
	else
		e2e_fail "vhost_dev_start traced ${n}x, want >= 2 (one per queue pair)"
	fi
fi
# Every ring of both devices carried a good part of a flow (>= 1/4 of one),
# not just ACKs, ARP and the odd packet hashed to the other queue.
e2e_traffic_check 2 $((E2E_XFER_MIB << 18))
e2e_run_end
e2e_finish
