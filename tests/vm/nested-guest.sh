# The nested guest's test (busybox ash, inside the guest that the test VM
# boots with qemu-system-x86_64 -accel kvm). Built into its initramfs by
# scripts/vm-prepare.sh as /usvhost/test.sh, next to /usvhost/guest-lib.sh.
#
# Parameters come from the kernel command line (tests/vm/vm-lib.sh sets them):
#   usvhost.ip=ADDR/PREFIX   this guest's address on eth0
#   usvhost.peer=ADDR        the VM's end of the tap
#   usvhost.rx=PORT          the VM sends its blob with nc here (guest RX),
#                            PORT+i for flow i
#   usvhost.tx=PORT          the VM receives with nc here, PORT+i for flow i
#   usvhost.bytes=N          bytes the guest sends per flow (guest TX)
#   usvhost.flows=N          parallel flows each way (default 1)
# It prints, for tests/vm/vm-lib.sh to check:
#   USVHOST_NESTED_UP <dev> status=<virtio status> features=<bits>
#   USVHOST_NESTED_PING ok|FAILED
#   USVHOST_NESTED_RX flow=<i> bytes=<n> sha256=<sum>    (VM -> guest)
#   USVHOST_NESTED_TX flow=<i> bytes=<n> sha256=<sum>    (guest -> VM)
#   USVHOST_NESTED_DONE
. /usvhost/guest-lib.sh

param() { # NAME DEFAULT
	v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^usvhost\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}

ip_addr=$(param ip 10.0.81.2/24)
peer=$(param peer 10.0.81.1)
rx=$(param rx 5101)
tx=$(param tx 5001)
bytes=$(param bytes 4194304)
flows=$(param flows 1)
ncpu=$(grep -c '^processor' /proc/cpuinfo)
rc=0

dev=$(guest_virtio_net_dev) || exit 1
guest_check_driver_ok "$dev" || { guest_show_status "$dev"; exit 1; }
ifc=$(guest_iface_of "$dev") || exit 1
guest_ifup "$ifc" "$ip_addr" || { guest_show_status "$dev" "$ifc"; exit 1; }
guest_show_status "$dev" "$ifc"
echo "USVHOST_NESTED_UP ${dev##*/} status=$(cat "$dev/status") features=$(cat "$dev/features") cpus=$ncpu queues=$(ls -d /sys/class/net/"$ifc"/queues/rx-* | wc -l)"

# The first ping may wait for ARP: allow a few.
if ping -c 3 -w 10 -W 2 "$peer" >/tmp/ping.out 2>&1; then
	echo "USVHOST_NESTED_PING ok $(grep -o '[0-9]* packets received' /tmp/ping.out)"
else
	echo "USVHOST_NESTED_PING FAILED"
	sed 's/^/guest:   /' /tmp/ping.out
	# No packet moves: the transfers would only wait for their timeouts.
	echo "USVHOST_NESTED_STATS rx_packets=$(cat /sys/class/net/"$ifc"/statistics/rx_packets) tx_packets=$(cat /sys/class/net/"$ifc"/statistics/tx_packets)"
	echo "guest: no transfers: the ping failed"
	exit 1
fi

# busybox nc exits as soon as the peer's side reaches EOF, even with input
# left to send: the side that only receives reads its stdin from a FIFO it
# also holds open for writing, so it never shuts its half down first.
mkfifo /tmp/hold
exec 3<>/tmp/hold

# RX: fetch the VM's blob, one connection per flow, in parallel.
i=0
while [ "$i" -lt "$flows" ]; do
	( timeout 60 nc "$peer" $((rx + i)) <&3 >"/tmp/rx.$i" 2>"/tmp/rx.$i.err"
	  echo $? >"/tmp/rx.$i.rc" ) &
	i=$((i + 1))
done
wait
i=0
while [ "$i" -lt "$flows" ]; do
	if [ "$(cat "/tmp/rx.$i.rc")" = 0 ]; then
		echo "USVHOST_NESTED_RX flow=$i bytes=$(wc -c <"/tmp/rx.$i") sha256=$(sha256sum "/tmp/rx.$i" | cut -d' ' -f1)"
	else
		echo "USVHOST_NESTED_RX flow=$i FAILED (nc exit $(cat "/tmp/rx.$i.rc"), $(wc -c <"/tmp/rx.$i") bytes): $(cat "/tmp/rx.$i.err")"
		rc=1
	fi
	rm -f "/tmp/rx.$i"
	i=$((i + 1))
done

# TX: send random bytes to the VM's listeners, flow i from CPU i % ncpu.
i=0
while [ "$i" -lt "$flows" ]; do
	head -c "$bytes" /dev/urandom >"/tmp/tx.$i"
	echo "USVHOST_NESTED_TX flow=$i bytes=$(wc -c <"/tmp/tx.$i") sha256=$(sha256sum "/tmp/tx.$i" | cut -d' ' -f1)"
	i=$((i + 1))
done
i=0
while [ "$i" -lt "$flows" ]; do
	( taskset -c $((i % ncpu)) timeout 60 nc "$peer" $((tx + i)) <"/tmp/tx.$i" >/dev/null 2>"/tmp/tx.$i.err"
	  echo $? >"/tmp/tx.$i.rc" ) &
	i=$((i + 1))
done
wait
i=0
while [ "$i" -lt "$flows" ]; do
	if [ "$(cat "/tmp/tx.$i.rc")" != 0 ]; then
		echo "USVHOST_NESTED_TX_SEND flow=$i FAILED (nc exit $(cat "/tmp/tx.$i.rc")): $(cat "/tmp/tx.$i.err")"
		rc=1
	fi
	i=$((i + 1))
done

# Let the VM's samplers of usvhostd's counters see the last packets while
# the rings are still attached (QEMU detaches them at power-off).
sleep 1.5
# Interface counters, as the guest saw them.
echo "USVHOST_NESTED_STATS rx_packets=$(cat /sys/class/net/"$ifc"/statistics/rx_packets) tx_packets=$(cat /sys/class/net/"$ifc"/statistics/tx_packets)"
echo "USVHOST_NESTED_DONE"
exit "$rc"
