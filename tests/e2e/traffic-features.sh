#!/usr/bin/env bash
# Traffic through usvhostd with the virtio-net device offering less: each of
# mrg_rxbuf=off (one descriptor chain per received packet, big buffers),
# event_idx=off (notification flags instead of event indices) and
# indirect_desc=off (no indirect tables), with memfd-shared and anonymous guest
# RAM (E2E_RAMS). Per run: pings both ways and E2E_XFER_MIB (64) MiB each way
# with matching sha256, usvhostd's counters account for the bytes, QEMU moved
# none itself. Arguments: the variants to run (default: all three).
# E2E_VHOST=off: the same with QEMU's own virtio-net (plumbing only).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=150}" # s, one guest run: boot, data, transfers
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=64}"
: "${E2E_RAMS:=memfd anon}"

e2e_require_host
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup
[ $# -gt 0 ] || set -- mrg_rxbuf=off event_idx=off indirect_desc=off

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up 10.0.77.2/24 || exit 1
guest_show_status "\$(guest_virtio_net_dev)"
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_transfer 5001 $E2E_XFER_MIB 5002 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"

for variant in "$@"; do
	for ram in $E2E_RAMS; do
		e2e_log "=== $variant, guest RAM: $ram, vhost=$E2E_VHOST, $E2E_XFER_MIB MiB each way"
		e2e_traffic_begin "$variant-$ram"
		e2e_flow_g2h 5001
		e2e_flow_h2g 5002 "$E2E_XFER_MIB"
		e2e_ping_guest
		e2e_traffic_boot --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram" \
			--device-opts="$variant"
		case $variant in # virtio spec bit numbers
		mrg_rxbuf=off) e2e_check_feature_off 15 VIRTIO_NET_F_MRG_RXBUF ;;
		event_idx=off) e2e_check_feature_off 29 VIRTIO_RING_F_EVENT_IDX ;;
		indirect_desc=off) e2e_check_feature_off 28 VIRTIO_RING_F_INDIRECT_DESC ;;
		esac
		e2e_traffic_check 1
		e2e_run_end
	done
done
e2e_finish
