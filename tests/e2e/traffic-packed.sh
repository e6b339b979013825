#!/usr/bin/env bash
# The packed virtqueue through usvhostd with unmodified QEMU
# (-device virtio-net-pci,packed=on, vhost=on through usvhostd), with
# memfd-shared and anonymous guest RAM (E2E_RAMS): the guest's driver and
# QEMU must both negotiate VIRTIO_F_RING_PACKED (bit 34, the guest's sysfs
# features and usvhostd's SET_FEATURES), the guest pings the host, reloads
# virtio_net (QEMU stops vhost, reads the ring positions with their wrap
# counters back with GET_VRING_BASE, and starts it again), then pings both
# ways and moves E2E_XFER_MIB (16) MiB each way with matching sha256;
# usvhostd's counters account for the bytes, QEMU moved none itself.
# Then multiqueue: a 2-queue tap, -smp 2, two usvhostd devices each with two
# packed rings, four flows of E2E_MQ_MIB (8) MiB pinned two per CPU; every
# ring must carry a good part of a flow.
# E2E_VHOST=off: the same with QEMU's own packed virtio-net (plumbing).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=120}" # s, one guest run: boot, reload, transfers
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=16}"
: "${E2E_RAMS:=memfd anon}"
: "${E2E_MQ_MIB:=8}"

e2e_require_host
command -v "$PYTHON" >/dev/null 2>&1 || e2e_die "$PYTHON missing: the multiqueue tap is opened by tests/lib/tap-queues.py"
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up 10.0.77.2/24 || exit 1
guest_show_status "\$(guest_virtio_net_dev)"
guest_ping_host || exit 1
guest_reload_driver 10.0.77.2/24 || exit 1
echo USVHOST_RELOADED
guest_show_status "\$(guest_virtio_net_dev)"
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_transfer 5001 $E2E_XFER_MIB 5002 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"

for ram in $E2E_RAMS; do
	e2e_log "=== packed ring, guest RAM: $ram, vhost=$E2E_VHOST, reload, $E2E_XFER_MIB MiB each way"
	e2e_traffic_begin "packed-$ram"
	e2e_flow_g2h 5001
	e2e_flow_h2g 5002 "$E2E_XFER_MIB"
	e2e_ping_guest
	e2e_traffic_boot --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram" \
		--device-opts=packed=on
	e2e_check_feature_on 34 VIRTIO_F_RING_PACKED
	after=$(sed -n '/^USVHOST_RELOADED/,$p' "$E2E_RUN_DIR/console.log" | tr -d '\r')
	if grep -q '^USVHOST_PING_HOST ok' <<<"$after" && grep -q '^USVHOST_PINGED' <<<"$after"; then
		e2e_pass "pings both ways after the reload"
	else
		e2e_fail "no pings both ways after the reload"
	fi
	if [ "$E2E_VHOST" = on ]; then
		e2e_check_mem_strategy "$([ "$ram" = memfd ] && echo mmap || echo procmem)"
		n=$(grep -c '^vhost_dev_start' "$E2E_RUN_DIR/qemu.trace" || true)
		if [ "$n" -ge 2 ]; then
			e2e_pass "QEMU started vhost again after the reload (vhost_dev_start ${n}x)"
		else
			e2e_fail "vhost_dev_start traced ${n}x, want >= 2 (start, then again after the reload)"
		fi
		# QEMU hands a fresh ring's positions with both wrap counters
		# set: 0x80008000 = 2147516416, at the start and after the reset.
		e2e_check_ioctl SET_VRING_BASE 2 "index=0 num=2147516416"
		e2e_check_ioctl SET_VRING_BASE 2 "index=1 num=2147516416"
		# The rings ran in usvhostd's packed walker (its stop lines).
		n=$(grep -c 'ring at stop: packed last_avail=' "$E2E_RUN_DIR/daemon.log" || true)
		if [ "$n" -ge 4 ]; then
			e2e_pass "usvhostd walked both rings as packed rings, twice ($n stop lines)"
		else
			e2e_fail "usvhostd logged $n packed ring stops, want >= 4 (2 rings x 2 starts)"
		fi
	fi
	e2e_traffic_check 1
	e2e_run_end
done

# Multiqueue: two queue pairs, so two devices, all four rings packed.
cat >"$E2E_DIR/guest-mq.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up 10.0.77.2/24 || exit 1
guest_show_status "\$(guest_virtio_net_dev)"
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_mkdata /tmp/g2h-5001 $E2E_MQ_MIB && guest_mkdata /tmp/g2h-5003 $E2E_MQ_MIB || exit 1
guest_send 5001 /tmp/g2h-5001 0 & p1=\$!
guest_recv 5002 /tmp/h2g-5002 0 & p2=\$!
guest_send 5003 /tmp/g2h-5003 1 & p3=\$!
guest_recv 5004 /tmp/h2g-5004 1 & p4=\$!
rc=0
for p in \$p1 \$p2 \$p3 \$p4; do wait \$p || rc=1; done
[ \$rc = 0 ] && echo USVHOST_TRAFFIC_DONE
exit \$rc
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd-mq.gz" "$E2E_DIR/guest-mq.sh"
# The single-queue tap gives its address to the multiqueue one.
ip addr flush dev usvtap0 && ip link set usvtap0 down
e2e_make_tap usvtapq "$E2E_HOST_IP/24" multi_queue

e2e_log "=== packed ring, 2 queue pairs, vhost=$E2E_VHOST, 4 flows of $E2E_MQ_MIB MiB"
e2e_traffic_begin packed-mq
for port in 5001 5003; do e2e_flow_g2h $port; done
for port in 5002 5004; do e2e_flow_h2g $port "$E2E_MQ_MIB"; done
e2e_ping_guest
e2e_traffic_boot --initrd="$E2E_DIR/initrd-mq.gz" --tap=usvtapq --ram=memfd --queues=2 \
	--device-opts=packed=on -- -smp 2
e2e_check_feature_on 34 VIRTIO_F_RING_PACKED
if [ "$E2E_VHOST" = on ]; then
	n=$(grep -c 'ring at stop: packed last_avail=' "$E2E_RUN_DIR/daemon.log" || true)
	if [ "$n" -ge 4 ]; then
		e2e_pass "usvhostd walked the four rings as packed rings ($n stop lines)"
	else
		e2e_fail "usvhostd logged $n packed ring stops, want >= 4 (2 devices x 2 rings)"
	fi
fi
e2e_traffic_check 2 $((E2E_MQ_MIB << 18))
e2e_run_end
e2e_finish
