#!/usr/bin/env bash
# Unprivileged QEMU, as libvirt runs it: unmodified QEMU as user nobody
# (setpriv: uid and gid 65534, supplementary group 4242 standing for kvm, no
# capabilities) opens /dev/vhost-net itself with plain vhost=on (no vhostfd),
# on a tap that root made for it (ip tuntap add ... user nobody). In the
# test's private mount namespace /dev/vhost-net is usvhostd's FUSE file,
# served with --mode=0660 --group=4242 as a udev rule would give the CUSE
# node. The guest pings and moves E2E_XFER_MIB (4) MiB each way, checked by
# sha256; the daemon's counters account for it; the daemon's log shows the
# open came from uid 65534 on QEMU's pid and SET_OWNER from QEMU's pid. Once
# with QEMU's default anonymous RAM (/proc/PID/mem of a process of another
# user) and once with shared memfd RAM (QEMU's fd imported with pidfd_getfd).
#
# The daemon runs as usvhostd.service runs it: in a network namespace of its
# own (PrivateNetwork=yes) and, when strace and systemd-analyze are there,
# traced for its system calls, each of which must be allowed by the unit's
# SystemCallFilter= (@system-service, pidfd_getfd and seccomp; mount and umount2
# apart, which only this FUSE front makes).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=150}"
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=4}"
qemu_uid=65534
qemu_gid=65534
node_gid=4242

e2e_require_host
command -v setpriv >/dev/null 2>&1 || e2e_skip "setpriv missing (util-linux)"
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup
real_daemon=$USVHOSTD

# Everything QEMU reads or writes as nobody: the scratch dir is root's 0700.
chmod 755 "$E2E_DIR"
cp "$USVHOST_VMLINUZ" "$E2E_DIR/vmlinuz"
chmod 644 "$E2E_DIR/vmlinuz"
USVHOST_VMLINUZ=$E2E_DIR/vmlinuz

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up 10.0.77.2/24 || exit 1
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_transfer 5001 $E2E_XFER_MIB 5002 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
chmod 644 "$E2E_DIR/initrd.gz"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24" user "$qemu_uid"

# A /dev of our own in this mount namespace (the host's devtmpfs is shared:
# nothing may be created there), with an empty file where each run binds the
# daemon's FUSE file.
devdir=$E2E_DIR/dev
mkdir "$devdir"
mount -t tmpfs -o mode=755 usvhost-dev "$devdir"
mkdir "$devdir/net" "$devdir/pts" "$devdir/shm"
for n in null zero full random urandom tty net/tun kvm fuse; do
	[ -e "/dev/$n" ] && cp -a "/dev/$n" "$devdir/$n"
done
for n in fd stdin stdout stderr; do cp -a "/dev/$n" "$devdir/$n"; done
chmod 1777 "$devdir/shm"
# As on a host with udev (50-udev-default.rules: KERNEL=="tun", MODE="0666"),
# whatever this machine's /dev says: QEMU as nobody opens it to attach.
chmod 666 "$devdir/net/tun"
: >"$devdir/vhost-net"
mount --move "$devdir" /dev

# The daemon as usvhostd.service starts it: its own network namespace, and
# its system calls counted when we can check them against the unit's filter.
strace_ok=0
if command -v strace >/dev/null 2>&1 && command -v systemd-analyze >/dev/null 2>&1; then
	strace_ok=1
else
	e2e_log "note: strace or systemd-analyze missing: the unit's SystemCallFilter= is not checked"
fi
cat >"$E2E_DIR/usvhostd-wrapper" <<WRAP
#!/bin/sh
# -D: the tracer is a detached grandchild, so the daemon keeps this pid.
if [ $strace_ok = 1 ] && [ "\${1:-}" != --help ]; then
	exec unshare -n strace -D -f -qq -c -o "\$E2E_STRACE_OUT" "$real_daemon" "\$@"
fi
exec unshare -n "$real_daemon" "\$@"
WRAP
chmod 755 "$E2E_DIR/usvhostd-wrapper"
USVHOSTD=$E2E_DIR/usvhostd-wrapper

# Boot QEMU as nobody: it opens the tap by name and /dev/vhost-net itself.
boot_unprivileged() { # RAM
	local -a args
	local qpid
	# shellcheck disable=SC2054 # commas are QEMU's option syntax
	args=(-accel tcg -smp "$E2E_TCG_SMP" -m "$E2E_MEM" -nodefaults -display none -no-reboot
		-chardev stdio,id=con0,mux=on -serial chardev:con0 -mon chardev=con0,mode=readline
		-kernel "$USVHOST_VMLINUZ" -initrd "$E2E_DIR/initrd.gz"
		-append "console=ttyS0 panic=-1 quiet"
		-netdev tap,id=n0,ifname=usvtap0,script=no,downscript=no,vhost=on
		-device virtio-net-pci,netdev=n0
		-trace vhost_dev_start -trace vhost_dev_stop -trace virtio_queue_notify
		-D "$E2E_RUN_DIR/qemu.trace")
	[ "$1" = anon ] || args+=(-object "memory-backend-memfd,id=mem,size=$E2E_MEM,share=on"
		-machine memory-backend=mem)
	: >"$E2E_RUN_DIR/qemu.trace"
	chown "$qemu_uid" "$E2E_RUN_DIR/qemu.trace"
	chmod 755 "$E2E_RUN_DIR"
	local -a as=(setpriv --reuid="$qemu_uid" --regid="$qemu_gid" --groups="$node_gid"
		--inh-caps=-all --bounding-set=-all --)
	printf '%q ' "${as[@]}" "$QEMU" "${args[@]}" >"$E2E_RUN_DIR/qemu.cmd"
	local t0=$SECONDS
	(
		exec </dev/null >"$E2E_RUN_DIR/console.log" 2>"$E2E_RUN_DIR/qemu.err"
		exec "${as[@]}" "$QEMU" "${args[@]}"
	) &
	qpid=$!
	E2E_QEMU_PID=$qpid
	# Who QEMU runs as, seen from outside while it runs.
	sleep 1
	awk '/^(Uid|Gid|Groups|CapEff):/' "/proc/$qpid/status" >"$E2E_RUN_DIR/qemu.status" 2>/dev/null || true
	if e2e_wait_pid "$qpid" "$E2E_QEMU_TIMEOUT"; then
		E2E_QEMU_RC=$E2E_WAIT_RC
	else
		e2e_log "QEMU did not finish within $E2E_QEMU_TIMEOUT s; killing it"
		e2e_kill_bounded "$qpid" qemu || true
		E2E_QEMU_RC=124
	fi
	# shellcheck disable=SC2034 # read by e2e_cleanup
	E2E_QEMU_PID=""
	e2e_traffic_end "$t0"
	QEMU_PID_WAS=$qpid
}

check_identity() {
	local log=$E2E_RUN_DIR/daemon.log st=$E2E_RUN_DIR/qemu.status
	if grep -q "^Uid:[[:space:]]*${qemu_uid}[[:space:]]" "$st" &&
		grep -q "^CapEff:[[:space:]]*0*$" "$st"; then
		e2e_pass "QEMU (pid $QEMU_PID_WAS) ran as uid $qemu_uid with no capabilities"
	else
		e2e_fail "QEMU's identity: $(tr '\n' ' ' <"$st")"
	fi
	if grep -qE "dev [0-9]+: open by thread $QEMU_PID_WAS uid $qemu_uid " "$log"; then
		e2e_pass "QEMU (pid $QEMU_PID_WAS, uid $qemu_uid) opened the device itself"
	else
		e2e_fail "no open by QEMU's pid $QEMU_PID_WAS as uid $qemu_uid: $(grep -m3 'open by' "$log" | tr '\n' ' ')"
	fi
	if grep -qE "dev [0-9]+: owner $QEMU_PID_WAS \(" "$log"; then
		e2e_pass "SET_OWNER came from QEMU's pid $QEMU_PID_WAS"
	else
		e2e_fail "owner is not QEMU's pid $QEMU_PID_WAS: $(grep -m3 ': owner ' "$log" | tr '\n' ' ')"
	fi
	if grep -qE "open by .* refused|-> -?(EACCES|EPERM)\b" "$log"; then
		e2e_fail "the daemon refused something: $(grep -m3 -E 'refused|EACCES|EPERM' "$log" | tr '\n' ' ')"
	fi
}

# Every system call of SET (a file of names) the unit allows.
syscall_expand() { # GROUP-OR-NAME...
	systemd-analyze syscall-filter 2>/dev/null | awk -v want="$*" '
	/^@/ { g = $1; next }
	/^ *#/ { next }
	NF == 1 && g != "" { m[g] = m[g] " " $1 }
	function add(x,   k, a, j) {
		if (x in seen) return
		seen[x] = 1
		if (substr(x, 1, 1) != "@") { out[x] = 1; return }
		k = split(m[x], a, " ")
		for (j = 1; j <= k; j++) add(a[j])
	}
	END { n = split(want, w, " "); for (i = 1; i <= n; i++) add(w[i]); for (s in out) print s }'
}

check_syscalls() {
	local out=$E2E_STRACE_OUT allowed=$E2E_DIR/allowed used bad="" s deadline=$((SECONDS + 5))
	[ "$strace_ok" = 1 ] || return 0
	# The tracer writes its summary once the daemon is gone.
	until grep -q 'total' "$out" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.1
	done
	filter=$(sed -n 's/^SystemCallFilter=//p' "$top_srcdir/dist/usvhostd.service.in")
	# shellcheck disable=SC2086 # the filter is a word list
	syscall_expand $filter >"$allowed"
	used=$(awk '/^-+/ { n++; next } n == 1 && NF >= 5 { print $NF }' "$out" | sort -u)
	[ -n "$used" ] || { e2e_fail "no strace summary in $out"; return; }
	e2e_log "the daemon's system calls: $(echo "$used" | tr '\n' ' ')"
	for s in $used; do
		case $s in mount | umount2) continue ;; esac
		grep -qx "$s" "$allowed" || bad="$bad $s"
	done
	if [ -z "$bad" ]; then
		e2e_pass "all $(echo "$used" | wc -w) system calls the daemon made are allowed by SystemCallFilter=$filter"
	else
		e2e_fail "system calls outside the unit's SystemCallFilter=:$bad"
	fi
}

for ram in anon memfd; do
	e2e_log "=== QEMU as uid $qemu_uid, guest RAM $ram, $E2E_XFER_MIB MiB each way"
	export E2E_STRACE_OUT=$E2E_DIR/strace-$ram
	e2e_traffic_begin "unprivileged-$ram" --mode=0660 --group="$node_gid"
	mount --bind "$E2E_MNT/vhost-net" /dev/vhost-net
	e2e_flow_g2h 5001
	e2e_flow_h2g 5002 "$E2E_XFER_MIB"
	e2e_ping_guest
	boot_unprivileged "$ram"
	umount /dev/vhost-net
	check_identity
	e2e_check_mem_strategy "$([ "$ram" = memfd ] && echo mmap || echo procmem)"
	e2e_traffic_check 1
	check_syscalls
	e2e_run_end
done
e2e_finish
