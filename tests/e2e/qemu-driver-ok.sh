#!/usr/bin/env bash
# End to end with unmodified QEMU: usvhostd serves /dev/vhost-net ioctls on its
# FUSE front, QEMU boots a guest with -netdev tap,vhost=on,vhostfd=N, and the
# guest's virtio-net driver reaches DRIVER_OK with eth0 up. Run once with
# memfd-shared guest RAM (daemon maps it: strategy=mmap) and once with QEMU's
# default anonymous RAM (strategy=procmem).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/lib/e2e-lib.sh"

e2e_require_host
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

cat >"$E2E_DIR/guest.sh" <<'EOF'
. /usvhost/guest-lib.sh
dev=$(guest_virtio_net_dev) || exit 1
guest_check_driver_ok "$dev" || { guest_show_status "$dev"; exit 1; }
ifc=$(guest_iface_of "$dev") || exit 1
[ "$ifc" = eth0 ] || { echo "guest: virtio-net interface is $ifc, not eth0"; exit 1; }
guest_ifup eth0 10.0.77.2/24 || { guest_show_status "$dev" eth0; exit 1; }
guest_show_status "$dev" eth0
echo "USVHOST_E2E_DRIVER_OK ${dev##*/} status=$(cat "$dev/status") eth0=$(cat /sys/class/net/eth0/operstate)"
EOF
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 10.0.77.1/24

for ram in memfd anon; do
	case $ram in
	memfd) strategy=mmap ;;
	anon) strategy=procmem ;;
	esac
	e2e_log "=== guest RAM: $ram (expect strategy=$strategy)"
	e2e_run_begin "$ram"
	e2e_start_daemon
	t0=$SECONDS
	e2e_boot_guest --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram" --vhost=on
	e2e_log "guest run took $((SECONDS - t0)) s"
	e2e_check_console '^USVHOST_E2E_DRIVER_OK virtio[0-9]+ status=0x[0-9a-f]*f eth0=up'
	e2e_check_qemu
	e2e_check_vhost_started
	e2e_check_qemu72_sequence
	e2e_check_mem_strategy "$strategy"
	e2e_check_daemon_stop
	e2e_run_end
done
e2e_finish
