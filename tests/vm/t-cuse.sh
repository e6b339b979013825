#!/bin/bash
# test: CUSE front bring-up: /dev/vhost-net from usvhostd, the QEMU 7.2 client on it
# Runs inside the test VM (tests/vm/vm-init.sh).
#  * cuse loads, the kernel's vhost_net is not loaded and holds no node;
#  * usvhostd --transport=cuse --name=vhost-net creates /dev/vhost-net (a
#    CUSE node: dynamic major, /sys/class/cuse/vhost-net);
#  * a second usvhostd refuses the taken name, and so does one started
#    while the kernel's vhost_net holds it;
#  * tests/integration/qemu_client (QEMU 7.2's sequences, the errno checks,
#    a second process, concurrency, abandoned devices) passes on the CUSE
#    node, as it does on the FUSE file on the host;
#  * live upgrade: with control_client keeping a device busy on the node,
#    usvhostd --takeover takes the session (/dev/cuse), the device and the
#    control socket over; the old daemon exits 0, the node stays the same,
#    10000 GET_FEATURES across the hand-over all succeed, TX and RX go on
#    through the new daemon, and the counters continue;
#  * SIGTERM: exit 0, node removed.
set -eu
. "$top_srcdir/tests/vm/vm-lib.sh" cuse

vm_modprobe cuse tun || e2e_die "cannot load cuse/tun"
if [ -c /dev/cuse ]; then
	e2e_pass "cuse loaded: /dev/cuse is there"
else
	e2e_fail "no /dev/cuse after loading cuse"
fi
vm_kernel_vhost off
if [ -e /dev/vhost-net ] || vm_module_loaded vhost_net; then
	e2e_fail "the kernel's vhost_net is loaded or /dev/vhost-net exists"
else
	e2e_pass "the kernel's vhost_net is not loaded; /dev/vhost-net does not exist"
fi

vm_daemon_start main vhost-net
major=$(stat -c %t "/dev/vhost-net")
if [ -e /sys/class/cuse/vhost-net ] && [ "$((16#$major))" != 10 ]; then
	e2e_pass "/dev/vhost-net is usvhostd's CUSE node (major $((16#$major)), /sys/class/cuse/vhost-net), not the kernel's misc 10:238"
else
	e2e_fail "/dev/vhost-net is not a CUSE node (major $((16#$major)))"
fi
if [ "$VM_NODE_MS" -le 2000 ]; then
	e2e_pass "/dev/vhost-net appeared $VM_NODE_MS ms after usvhostd started"
else
	e2e_fail "/dev/vhost-net took $VM_NODE_MS ms to appear"
fi

# The name is taken: a second daemon must refuse, and say why.
if timeout 10 "$USVHOSTD" --transport=cuse --name=vhost-net --foreground >"$VM_OUT/second.log" 2>&1; then
	e2e_fail "a second usvhostd --name=vhost-net started (exit 0)"
else
	rc=$?
	if grep -q 'already exists' "$VM_OUT/second.log"; then
		e2e_pass "a second usvhostd --name=vhost-net refuses (exit $rc): $(grep -m1 'already exists' "$VM_OUT/second.log" | cut -c1-100)..."
	else
		e2e_fail "a second usvhostd exited $rc without saying the node exists: $(head -n 3 "$VM_OUT/second.log" | tr '\n' ' ')"
	fi
fi

client=$top_builddir/tests/integration/qemu_client
if [ -x "$client" ]; then
	t0=$SECONDS
	if (cd /tmp && timeout -s KILL 300 "$client" --dev=/dev/vhost-net) >"$VM_OUT/qemu_client.log" 2>&1; then
		e2e_pass "qemu_client on the CUSE /dev/vhost-net: $(tail -n 1 "$VM_OUT/qemu_client.log") ($((SECONDS - t0)) s)"
	else
		e2e_fail "qemu_client on the CUSE /dev/vhost-net failed:"
		sed 's/^/    /' "$VM_OUT/qemu_client.log"
	fi
	grep -E '^(ok|FAIL) ' "$VM_OUT/qemu_client.log" | sed "s/^/[$E2E_NAME]   qemu_client: /"
else
	e2e_fail "$client not built (make check builds it)"
fi
# Every device the client opened was released, the two it abandoned too
# (CUSE sends RELEASE when the last reference goes: poll, bounded).
left=""
for _ in $(seq 1 100); do
	left=$(grep -oE '\(([0-9]+) open\)' "$VM_DAEMON_LOG" | tail -n 1)
	[ "$left" = "(0 open)" ] && break
	sleep 0.1
done
if [ "$left" = "(0 open)" ]; then
	e2e_pass "every device the client opened was released ($(grep -c ': release' "$VM_DAEMON_LOG") releases)"
else
	e2e_fail "devices still open in usvhostd after the client exited: last count $left"
fi

# ---- live upgrade on the CUSE node ---------------------------------------------
cclient=$top_builddir/tests/integration/control_client
ccout=$VM_OUT/takeover-client.out
wait_cc() { # REGEX SECS
	local deadline=$((SECONDS + $2))
	until grep -qE "$1" "$ccout"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}
node_before=$(stat -c '%t:%T' /dev/vhost-net)
# The results directory is shared with the host and takes no FIFO.
fifo=$(mktemp -u /tmp/takeover-cmd.XXXXXX)
mkfifo "$fifo"
timeout -s KILL 180 "$cclient" --dev=/dev/vhost-net --tap=tko0 --tx=5 --rx=3 \
	<"$fifo" >"$ccout" 2>&1 &
ccpid=$!
exec 3>"$fifo"
if ! wait_cc '^ready .*failures=0' 20; then
	e2e_fail "control_client on the CUSE node did not get ready: $(tr '\n' ' ' <"$ccout")"
else
	echo "ioctls 10000" >&3
	sleep 0.2
	oldpid=$VM_DAEMON_PID
	newlog=$VM_OUT/daemon-takeover.log
	"$USVHOSTD" --takeover --foreground --log-level=debug ${VM_DAEMON_STATS:+--stats="$VM_DAEMON_STATS"} \
		</dev/null >"$newlog" 2>&1 &
	newpid=$!
	if vm_wait_pid "$oldpid" 20 && [ "$VM_WAIT_RC" = 0 ]; then
		e2e_pass "usvhostd --takeover: the old daemon exited 0 ($(grep -o 'takeover: [0-9]* device.*handed over.*' "$VM_DAEMON_LOG" | head -n1))"
	else
		e2e_fail "usvhostd --takeover: the old daemon (pid $oldpid) did not exit 0 (${VM_WAIT_RC:-running}): $(tail -n 5 "$VM_DAEMON_LOG" | tr '\n' ' ')"
	fi
	VM_DAEMON_PID=$newpid VM_DAEMON_LOG=$newlog
	if grep -q 'takeover: serving 1 device' "$newlog" && e2e_alive "$newpid" &&
		[ "$(stat -c '%t:%T' /dev/vhost-net 2>/dev/null)" = "$node_before" ]; then
		e2e_pass "the new daemon serves the device on the same node ($node_before)"
	else
		e2e_fail "the new daemon does not serve /dev/vhost-net $node_before: $(tail -n 5 "$newlog" | tr '\n' ' ')"
	fi
	if grep -q '^ioctls n=10000' "$ccout"; then
		e2e_fail "the 10000 GET_FEATURES were over before the hand-over: nothing proven"
	elif wait_cc '^ioctls n=10000 .*failures=0' 120; then
		e2e_pass "10000 GET_FEATURES across the hand-over, none failed: $(grep -o 'max_us=[0-9]*' "$ccout" | tail -n1)"
	else
		e2e_fail "GET_FEATURES across the hand-over: $(grep '^ioctls' "$ccout" || echo 'not done')"
	fi
	echo "tx 5" >&3
	echo "rx 2" >&3
	if wait_cc '^tx n=5 failures=0' 20 && wait_cc '^rx n=2 failures=0' 20; then
		e2e_pass "TX and RX through the new daemon's rings"
	else
		e2e_fail "TX/RX after the hand-over: $(tail -n 3 "$ccout" | tr '\n' ' ')"
	fi
	stats=$(timeout 10 "$top_builddir/src/usvhostctl" stats --json --watch --count=1 2>&1 || true)
	if grep -qF '"dir":"tx","state":"running","backend":"tap:tko0","packets":10,' <<<"$stats" &&
		grep -qF '"dir":"rx","state":"running","backend":"tap:tko0","packets":5,' <<<"$stats"; then
		e2e_pass "ring counters continue across the hand-over (tx 10, rx 5 packets)"
	else
		e2e_fail "counters after the hand-over: $stats"
	fi
fi
echo quit >&3
exec 3>&-
e2e_wait_pid "$ccpid" 20 || e2e_kill_bounded "$ccpid" control_client || true
rm -f "$fifo"
vm_daemon_stop

# With the kernel's vhost_net holding the name, usvhostd refuses to start.
vm_kernel_vhost on
if timeout 10 "$USVHOSTD" --transport=cuse --name=vhost-net --foreground >"$VM_OUT/over-kernel.log" 2>&1; then
	e2e_fail "usvhostd started although the kernel's /dev/vhost-net exists"
else
	if grep -q 'already exists' "$VM_OUT/over-kernel.log"; then
		e2e_pass "with vhost_net loaded, usvhostd --name=vhost-net refuses to start"
	else
		e2e_fail "usvhostd over the kernel's node: $(head -n 3 "$VM_OUT/over-kernel.log" | tr '\n' ' ')"
	fi
fi
# ... and another name works next to it.
vm_daemon_start side usvhost-side
if [ -c /dev/vhost-net ] && [ -c /dev/usvhost-side ]; then
	e2e_pass "/dev/usvhost-side (usvhostd) and /dev/vhost-net (kernel) side by side"
else
	e2e_fail "/dev/usvhost-side and /dev/vhost-net are not both there"
fi
vm_daemon_stop
vm_kernel_vhost off
e2e_finish
