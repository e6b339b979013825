# Guest-side helpers (busybox ash, not bash), copied into the initramfs as
# /usvhost/guest-lib.sh by tests/lib/e2e-lib.sh and scripts/run-guest.sh.
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

# ---- traffic (tests/e2e/traffic-*.sh, scripts/bench-throughput.sh) ----------
# Flows are TCP connections to the host side of the tap, one port each, served
# by the host's busybox nc (tests/lib/e2e-lib.sh e2e_flow_g2h / e2e_flow_h2g).
# Each ends with a console line the host checks:
#   USVHOST_XFER port=PORT dir=g2h|h2g bytes=N sha256=HEX csecs=CENTISECONDS

GUEST_HOST_IP=10.0.77.1
GUEST_XFER_TIMEOUT=60 # s, for one transfer
GUEST_MARKS=0         # 1: "USVHOST_MARK begin|end port=P" around each nc

guest_mark() { [ "$GUEST_MARKS" = 0 ] || echo "USVHOST_MARK $1 port=$2"; }

# Centiseconds since boot.
guest_csecs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# The virtio-net interface is up with ADDR and its driver is at DRIVER_OK;
# sets GUEST_IFACE.
guest_net_up() { # ADDR/PREFIX
	dev=$(guest_virtio_net_dev) || return 1
	guest_check_driver_ok "$dev" || { guest_show_status "$dev"; return 1; }
	GUEST_IFACE=$(guest_iface_of "$dev") || return 1
	guest_ifup "$GUEST_IFACE" "$1" || { guest_show_status "$dev" "$GUEST_IFACE"; return 1; }
}

# Three pings to the host; "USVHOST_PING_HOST ok" when all came back.
guest_ping_host() {
	ping -c 3 -i 0.2 -w 10 "$GUEST_HOST_IP" >/tmp/ping.out 2>&1
	if grep -q ' 3 packets received' /tmp/ping.out; then
		echo "USVHOST_PING_HOST ok $(grep -o 'round-trip.*' /tmp/ping.out)"
	else
		echo "guest: ping $GUEST_HOST_IP failed:"
		sed 's/^/guest:   /' /tmp/ping.out
		return 1
	fi
}

# ICMP echo requests this guest has received (and answered).
guest_icmp_in_echos() {
	awk '/^Icmp:/ { if (!c) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i }
		else { print $c; exit } }' /proc/net/snmp
}

# Wait at most SECS for N more echo requests from the host (its ping loop):
# "USVHOST_PINGED echos=+N".
guest_wait_pinged() { # N SECS
	e0=$(guest_icmp_in_echos)
	i=0
	while [ $(($(guest_icmp_in_echos) - e0)) -lt "$1" ]; do
		i=$((i + 1))
		if [ "$i" -gt $(($2 * 10)) ]; then
			echo "guest: got $(($(guest_icmp_in_echos) - e0)) echo requests from the host in $2 s, want $1"
			return 1
		fi
		sleep 0.1
	done
	echo "USVHOST_PINGED echos=+$(($(guest_icmp_in_echos) - e0))"
}

# MIB MiB of random data in FILE (in the guest's RAM: tmpfs).
guest_mkdata() { # FILE MIB
	dd if=/dev/urandom of="$1" bs=1M count="$2" 2>/dev/null ||
		{ echo "guest: cannot write $2 MiB to $1"; return 1; }
}

# Run a command on CPU (none: anywhere). Multiqueue: with XPS, the sending
# CPU picks the tx queue.
guest_on_cpu() { # CPU COMMAND...
	c=$1
	shift
	if [ -n "$c" ]; then taskset -c "$c" "$@"; else "$@"; fi
}

# Send FILE to the host's PORT. nc's output goes nowhere: the host sends
# nothing and closes once it has read our end of file.
guest_send() { # PORT FILE [CPU]
	sum=$(sha256sum <"$2" | cut -d' ' -f1)
	bytes=$(stat -c %s "$2")
	guest_mark begin "$1"
	t0=$(guest_csecs)
	if ! guest_on_cpu "${3:-}" timeout "$GUEST_XFER_TIMEOUT" nc "$GUEST_HOST_IP" "$1" <"$2" >/dev/null; then
		echo "guest: sending $2 to port $1 failed or timed out ($GUEST_XFER_TIMEOUT s)"
		return 1
	fi
	guest_mark end "$1"
	echo "USVHOST_XFER port=$1 dir=g2h bytes=$bytes sha256=$sum csecs=$(($(guest_csecs) - t0))"
}

# Receive from the host's PORT into FILE until the host closes. nc's stdin
# is a FIFO held open read-write: it never ends, so nc never half-closes a
# connection the host is still sending on.
guest_recv() { # PORT FILE [CPU]
	[ -p /tmp/hold ] || mkfifo /tmp/hold
	guest_mark begin "$1"
	t0=$(guest_csecs)
	if ! guest_on_cpu "${3:-}" timeout "$GUEST_XFER_TIMEOUT" nc "$GUEST_HOST_IP" "$1" 0<>/tmp/hold >"$2"; then
		echo "guest: receiving from port $1 failed or timed out ($GUEST_XFER_TIMEOUT s) after $(stat -c %s "$2") bytes"
		return 1
	fi
	t1=$(guest_csecs)
	guest_mark end "$1"
	echo "USVHOST_XFER port=$1 dir=h2g bytes=$(stat -c %s "$2") sha256=$(sha256sum <"$2" | cut -d' ' -f1) csecs=$((t1 - t0))"
}

# Send MIB MiB of fresh random data to PORT, then receive from PORT2:
# one flow each way, one after the other, the data freed after each.
guest_transfer() { # G2H-PORT MIB H2G-PORT [CPU]
	guest_mkdata "/tmp/g2h-$1" "$2" || return 1
	guest_send "$1" "/tmp/g2h-$1" "${4:-}" || return 1
	rm -f "/tmp/g2h-$1"
	guest_recv "$3" "/tmp/h2g-$3" "${4:-}" || return 1
	rm -f "/tmp/h2g-$3"
}

# Unload and reload the virtio-net driver (the device is reset and probed
# again), then bring the interface up again with ADDR.
guest_reload_driver() { # ADDR/PREFIX
	ip link set "$GUEST_IFACE" down
	rmmod virtio_net || { echo "guest: rmmod virtio_net failed"; return 1; }
	insmod /lib/modules/virtio_net.ko || { echo "guest: insmod virtio_net.ko failed"; return 1; }
	echo "guest: virtio_net reloaded"
	guest_net_up "$1"
}

# Interrupts of each virtqueue so far, over all CPUs:
# "USVHOST_IRQ virtio0-input.0=N virtio0-output.0=N ...".
guest_vq_interrupts() {
	awk 'NR == 1 { ncpu = NF; next }
		$NF ~ /^virtio[0-9]+-(input|output)\.[0-9]+$/ {
			n = 0; for (i = 2; i <= ncpu + 1; i++) n += $i; s = s " " $NF "=" n }
		END { print "USVHOST_IRQ" s }' /proc/interrupts
}

# ---- paced flows (tests/e2e/migration.sh) ------------------------------------
# Flows that last a while whatever the link's speed: KIB KiB at a time with
# SECS of sleep after each, so the host can act (migrate) while they run.
# The receiver reads slowly, so the guest's socket keeps a full receive queue:
# data the host's side wrote into guest RAM that no guest CPU has read yet.
# Same console line as guest_send / guest_recv.

# Send FILE to the host's PORT, KIB KiB every SECS.
guest_send_paced() { # PORT FILE KIB SECS
	sum=$(sha256sum <"$2" | cut -d' ' -f1)
	bytes=$(stat -c %s "$2")
	n=$(((bytes + $3 * 1024 - 1) / ($3 * 1024)))
	guest_mark begin "$1"
	t0=$(guest_csecs)
	# busybox nc half-closes at the end of its input: the host sees the end.
	if ! { i=0; while [ "$i" -lt "$n" ]; do
		dd if="$2" bs="$3"k skip="$i" count=1 2>/dev/null || exit 1
		sleep "$4"; i=$((i + 1)); done; } |
		timeout "$GUEST_XFER_TIMEOUT" nc "$GUEST_HOST_IP" "$1" >/dev/null; then
		echo "guest: sending $2 to port $1 failed or timed out ($GUEST_XFER_TIMEOUT s)"
		return 1
	fi
	guest_mark end "$1"
	echo "USVHOST_XFER port=$1 dir=g2h bytes=$bytes sha256=$sum csecs=$(($(guest_csecs) - t0))"
}

# Receive from the host's PORT into FILE until the host closes, taking KIB
# KiB from the connection every SECS.
guest_recv_paced() { # PORT FILE KIB SECS
	[ -p /tmp/hold ] || mkfifo /tmp/hold
	: >"$2"
	guest_mark begin "$1"
	t0=$(guest_csecs)
	{ timeout "$GUEST_XFER_TIMEOUT" nc "$GUEST_HOST_IP" "$1" 0<>/tmp/hold; echo $? >"/tmp/nc-$1.rc"; } |
		while :; do
			k=$(dd bs="$3"k count=1 iflag=fullblock 2>/dev/null | tee -a "$2" | wc -c)
			[ "$k" -gt 0 ] || break
			sleep "$4"
		done
	if [ "$(cat "/tmp/nc-$1.rc")" != 0 ]; then
		echo "guest: receiving from port $1 failed or timed out ($GUEST_XFER_TIMEOUT s) after $(stat -c %s "$2") bytes"
		return 1
	fi
	t1=$(guest_csecs)
	guest_mark end "$1"
	echo "USVHOST_XFER port=$1 dir=h2g bytes=$(stat -c %s "$2") sha256=$(sha256sum <"$2" | cut -d' ' -f1) csecs=$((t1 - t0))"
}
