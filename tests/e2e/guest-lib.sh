# Guest-side helpers (busybox ash, not bash), copied into the initramfs as
# /usvhost/guest-lib.sh by tests/e2e/lib.sh and scripts/run-guest.sh.
# Every function prints a "guest:" line saying what went wrong and returns 1.

# virtio status bits (virtio spec 2.1)
VIRTIO_ACKNOWLEDGE=1
VIRTIO_DRIVER=2
VIRTIO_DRIVER_OK=4
VIRTIO_FEATURES_OK=8
VIRTIO_NEEDS_RESET=64
VIRTIO_FAILED=128

# The sysfs directory of the (first) virtio network device: device id 1.
guest_virtio_net_dev() {
	for d in /sys/bus/virtio/devices/virtio*; do
		[ -e "$d/device" ] || continue
		if [ "$(cat "$d/device")" = 0x0001 ]; then
			echo "$d"
			return 0
		fi
	done
	echo "guest: no virtio-net device (device 0x0001) under /sys/bus/virtio/devices" >&2
	return 1
}

# The driver finished negotiation: ACKNOWLEDGE, DRIVER, FEATURES_OK and
# DRIVER_OK set, FAILED and NEEDS_RESET clear.
guest_check_driver_ok() { # SYSFS-DEV
	s=$(cat "$1/status") || return 1
	want=$((VIRTIO_ACKNOWLEDGE | VIRTIO_DRIVER | VIRTIO_FEATURES_OK | VIRTIO_DRIVER_OK))
	if [ $((s & want)) -ne "$want" ] || [ $((s & (VIRTIO_FAILED | VIRTIO_NEEDS_RESET))) -ne 0 ]; then
		echo "guest: ${1##*/} status $s: driver did not reach DRIVER_OK cleanly" >&2
		return 1
	fi
}

# The network interface the virtio device registered (eth0 normally).
guest_iface_of() { # SYSFS-DEV
	for n in "$1"/net/*; do
		[ -e "$n" ] && { echo "${n##*/}"; return 0; }
	done
	echo "guest: ${1##*/} has no network interface" >&2
	return 1
}

# Bring IFACE up with ADDR/PREFIX and wait (at most 10 s) for the link.
guest_ifup() { # IFACE ADDR/PREFIX
	ip link set "$1" up || return 1
	[ -z "${2:-}" ] || ip addr add "$2" dev "$1" || return 1
	i=0
	while [ "$(cat "/sys/class/net/$1/operstate")" != up ]; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			echo "guest: $1 operstate still $(cat "/sys/class/net/$1/operstate") after 10 s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# Human-readable state of the device and its interface.
guest_show_status() { # SYSFS-DEV IFACE
	s=$(cat "$1/status")
	bits=""
	[ $((s & VIRTIO_ACKNOWLEDGE)) -eq 0 ] || bits="$bits ACKNOWLEDGE"
	[ $((s & VIRTIO_DRIVER)) -eq 0 ] || bits="$bits DRIVER"
	[ $((s & VIRTIO_FEATURES_OK)) -eq 0 ] || bits="$bits FEATURES_OK"
	[ $((s & VIRTIO_DRIVER_OK)) -eq 0 ] || bits="$bits DRIVER_OK"
	[ $((s & VIRTIO_NEEDS_RESET)) -eq 0 ] || bits="$bits NEEDS_RESET"
	[ $((s & VIRTIO_FAILED)) -eq 0 ] || bits="$bits FAILED"
	echo "guest: ${1##*/}: driver=$(basename "$(readlink "$1/driver")") status=$s ($bits )"
	echo "guest: ${1##*/}: features=$(cat "$1/features")"
	[ -n "${2:-}" ] || return 0
	echo "guest: $2: operstate=$(cat "/sys/class/net/$2/operstate") carrier=$(cat "/sys/class/net/$2/carrier" 2>/dev/null || echo '?')"
	ip addr show dev "$2" | sed 's/^/guest: /'
}
