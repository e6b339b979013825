#!/usr/bin/env bash
# Traffic through usvhostd with unmodified QEMU (vhost=on, FUSE front,
# vhostfd): the guest pings the host and the host pings the guest, then a TCP
# transfer of E2E_XFER_MIB (64) MiB of random data each way, checked by
# sha256 on both ends; once with memfd-shared guest RAM (usvhostd maps it)
# and once with QEMU's default anonymous RAM (/proc/PID/mem). usvhostd's
# per-ring counters must account for the bytes, QEMU must not have moved
# them itself. E2E_VHOST=off: the same with QEMU's own virtio-net (plumbing).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=150}" # s, one guest run: boot, data, transfers
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=64}"

e2e_require_host
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up 10.0.77.2/24 || exit 1
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_transfer 5001 $E2E_XFER_MIB 5002 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"

for ram in memfd anon; do
	e2e_log "=== guest RAM: $ram, vhost=$E2E_VHOST, $E2E_XFER_MIB MiB each way"
	e2e_traffic_begin "$ram"
	e2e_flow_g2h 5001
	e2e_flow_h2g 5002 "$E2E_XFER_MIB"
	e2e_ping_guest
	e2e_traffic_boot --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram"
	if [ "$E2E_VHOST" = on ]; then
		e2e_check_mem_strategy "$([ "$ram" = memfd ] && echo mmap || echo procmem)"
	fi
	e2e_traffic_check 1
	e2e_run_end
done
e2e_finish
