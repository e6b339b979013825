#!/usr/bin/env bash
# A driver reload in the guest while usvhostd serves its rings: the guest
# pings the host, unloads virtio_net (QEMU stops vhost and resets the device)
# and loads it again (QEMU starts vhost again on the same usvhostd device);
# then pings both ways and a 16 MiB transfer each way must work, through
# usvhostd. E2E_VHOST=off: the same with QEMU's own virtio-net (plumbing).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=120}" # s, one guest run: boot, data, transfers
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=16}"

e2e_require_host
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up 10.0.77.2/24 || exit 1
guest_ping_host || exit 1
guest_reload_driver 10.0.77.2/24 || exit 1
echo USVHOST_RELOADED
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_transfer 5001 $E2E_XFER_MIB 5002 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"

e2e_log "=== driver reload, vhost=$E2E_VHOST, then $E2E_XFER_MIB MiB each way"
e2e_traffic_begin reload
e2e_flow_g2h 5001
e2e_flow_h2g 5002 "$E2E_XFER_MIB"
e2e_ping_guest
e2e_traffic_boot --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram=anon
# The pings that count are the ones after the reload.
after=$(sed -n '/^USVHOST_RELOADED/,$p' "$E2E_RUN_DIR/console.log" | tr -d '\r')
if grep -q '^USVHOST_PING_HOST ok' <<<"$after" && grep -q '^USVHOST_PINGED' <<<"$after"; then
	e2e_pass "pings both ways after the reload"
else
	e2e_fail "no pings both ways after the reload"
fi
if [ "$E2E_VHOST" = on ]; then
	n=$(grep -c '^vhost_dev_start' "$E2E_RUN_DIR/qemu.trace" || true)
	if [ "$n" -ge 2 ]; then
		e2e_pass "QEMU started vhost again after the reload (vhost_dev_start ${n}x)"
	else
		e2e_fail "vhost_dev_start traced ${n}x, want >= 2 (start, then again after the reload)"
	fi
fi
e2e_traffic_check 1
e2e_run_end
e2e_finish
