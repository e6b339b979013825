#!/usr/bin/env bash
# libvirt starts a domain whose network goes through usvhostd. A real
# libvirtd (Debian's libvirt-daemon-system) runs inside the test's private
# mount and network namespaces, with its own /etc/libvirt, /run,
# /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt (tmpfs), so it
# never meets the host's libvirt. The domain (direct kernel boot of the e2e
# guest, <interface type='ethernet'> on a tap the test made) is defined and
# started with virsh; QEMU runs as libvirt-qemu, as libvirt runs it.
# libvirt opens vhost-net only for <domain type='kvm'>: the domain is
# type='kvm' and its <emulator> a wrapper that runs QEMU with TCG (below).
#
# Two runs:
#  backend: <driver name='vhost'/> <backend vhost='DIR/vhost-net'/>: libvirt
#           opens usvhostd's FUSE file by the path given (as for
#           /dev/usvhost-net), guest RAM QEMU's default anonymous memory;
#  devnode: <driver name='vhost'/> alone: libvirt opens /dev/vhost-net, here
#           usvhostd's FUSE file bind-mounted there in the test's namespace
#           (libvirtd runs in it, so it sees it), guest RAM shared memfd
#           (<memoryBacking><source type='memfd'/><access mode='shared'/>).
# Each: the guest pings both ways and moves E2E_XFER_MIB (4) MiB each way,
# checked by sha256; usvhostd's counters account for it and QEMU handled no
# data-ring kick itself; QEMU's command line (libvirt's domain log) has
# "vhost":true with a "vhostfd"; the daemon's log shows the open from a
# libvirtd thread as root (libvirt opens the device and passes the fd) and
# SET_OWNER from QEMU's pid, which ran as libvirt-qemu.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${E2E_QEMU_TIMEOUT:=120}"
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${E2E_XFER_MIB:=4}"
: "${LIBVIRTD:=libvirtd}"
: "${VIRSH:=virsh}"
dom=usvhost-e2e

e2e_require_host
command -v "$LIBVIRTD" >/dev/null 2>&1 ||
	e2e_skip "$LIBVIRTD not installed (apt-get install --no-install-recommends libvirt-daemon-system libvirt-clients)"
command -v "$VIRSH" >/dev/null 2>&1 || e2e_skip "$VIRSH not installed (apt-get install libvirt-clients)"
id libvirt-qemu >/dev/null 2>&1 || e2e_skip "no user libvirt-qemu (libvirt-daemon-system makes it)"
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

LV_PID=""
virsh_() { timeout -k 2 "${VIRSH_TIMEOUT:-20}" "$VIRSH" -q -c qemu:///system "$@"; }

# shellcheck disable=SC2317 # run by the EXIT trap
lv_cleanup() {
	local rc=$?
	set +e
	if [ -n "$LV_PID" ]; then
		if e2e_alive "$LV_PID"; then
			virsh_ destroy "$dom" >/dev/null 2>&1
			virsh_ undefine "$dom" >/dev/null 2>&1
		fi
		e2e_kill_bounded "$LV_PID" libvirtd
		LV_PID=""
	fi
	# QEMU is libvirtd's child, not ours: a leftover one is found by its pid
	# file, and so is a capability probe of a libvirtd killed mid-probe
	# (/var/lib/libvirt is this test's tmpfs: every pid file there is ours).
	local f
	for f in "$E2E_DIR/qemu.pid" /var/lib/libvirt/qemu/qmp-*/qmp.pid; do
		[ -s "$f" ] && e2e_kill_bounded "$(cat "$f")" qemu
	done
	return "$rc"
}
trap 'lv_cleanup; e2e_cleanup' EXIT

# Everything libvirt-qemu reads or writes: the scratch dir is root's 0700.
chmod 755 "$E2E_DIR"
cp "$USVHOST_VMLINUZ" "$E2E_DIR/vmlinuz"
chmod 644 "$E2E_DIR/vmlinuz"

cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
guest_net_up $E2E_GUEST_IP/24 || exit 1
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
guest_transfer 5001 $E2E_XFER_MIB 5002 || exit 1
echo USVHOST_TRAFFIC_DONE
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
chmod 644 "$E2E_DIR/initrd.gz"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"

# A /dev of our own (the host's devtmpfs is shared: nothing may be created
# there) with an empty file where the devnode run binds the FUSE file. No
# /dev/kvm as udev makes it on Debian (root:kvm 0660; libvirt-qemu is in
# group kvm): one that root can open but libvirt-qemu cannot makes libvirt
# re-probe QEMU on every call ("KVM was enabled when probing ..., but it is
# not available now").
devdir=$E2E_DIR/dev
mkdir "$devdir"
mount -t tmpfs -o mode=755 usvhost-dev "$devdir"
mkdir "$devdir/net" "$devdir/pts" "$devdir/shm"
for n in null zero full random urandom tty ptmx net/tun kvm fuse; do
	[ -e "/dev/$n" ] && cp -a "/dev/$n" "$devdir/$n"
done
chgrp kvm "$devdir/kvm"
chmod 660 "$devdir/kvm"
for n in fd stdin stdout stderr; do cp -a "/dev/$n" "$devdir/$n"; done
chmod 1777 "$devdir/shm"
: >"$devdir/vhost-net"
mount --move "$devdir" /dev
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts 2>/dev/null || true

# libvirt's state, all private to this namespace. /run as a whole: its
# /run/libvirt may not exist on the host, and nothing else in /run is used.
lvetc=$E2E_DIR/etc-libvirt
mkdir "$lvetc"
cat >"$lvetc/libvirtd.conf" <<CONF
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
log_filters = "1:qemu 1:conf 1:security 3:object 3:util.netdev"
log_outputs = "1:file:$E2E_DIR/libvirtd.log"
CONF
# What a user changes on a host without systemd as PID 1 (docs/deploy.md):
# - cgroup_controllers = []: libvirt would make its own machine cgroups in
#   the host's hierarchy (no machined here to ask); not needed for vhost.
# - namespaces = []: by default QEMU gets a /dev of libvirt's making; the
#   test's /dev (with its /dev/vhost-net) is the one we want it to see. The
#   vhost device itself is opened by libvirtd either way.
# - stdio_handler = "file": QEMU's stderr straight to the domain log, no
#   virtlogd daemon.
# QEMU runs as libvirt-qemu:libvirt-qemu (Debian's default) under the DAC
# security driver, which chowns the kernel, initrd and files it is given.
cat >"$lvetc/qemu.conf" <<CONF
user = "libvirt-qemu"
group = "libvirt-qemu"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
CONF
mount --bind "$lvetc" /etc/libvirt
mount -t tmpfs -o mode=755 usvhost-run /run
for d in /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
	[ -d "$d" ] || e2e_skip "$d missing (libvirt-daemon-system not fully installed)"
	mount -t tmpfs -o mode=755 usvhost-lv "$d"
done
mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu

# libvirt hands QEMU a vhost device only for <domain type='kvm'>: for a
# type='qemu' (TCG) domain it ignores <driver name='vhost'/> and
# <backend vhost=...> altogether (qemuInterfaceOpenVhostNet returns at once
# unless virtType is KVM). So the domain is type='kvm', and its emulator is
# this wrapper, which turns libvirt's "-accel kvm" into "-accel tcg": the
# guest runs under TCG like every e2e guest (a host's /dev/kvm may be there
# and still not run guests, as in nested setups without VMX), while libvirt
# does everything it does for a KVM domain with vhost.
cat >"$E2E_DIR/qemu-tcg" <<WRAP
#!/bin/bash
args=() prev=
for a in "\$@"; do
	[ "\$prev" = -accel ] && [ "\$a" = kvm ] && a=tcg
	args+=("\$a") prev=\$a
done
exec $(command -v "$QEMU") "\${args[@]}"
WRAP
chmod 755 "$E2E_DIR/qemu-tcg"
[ -c /dev/kvm ] ||
	e2e_skip "no /dev/kvm: libvirt accepts <domain type='kvm'> (the only type for which it opens vhost-net) only where QEMU can open /dev/kvm"

"$LIBVIRTD" </dev/null >"$E2E_DIR/libvirtd.out" 2>&1 &
LV_PID=$!
deadline=$((SECONDS + 20))
until virsh_ version >/dev/null 2>&1; do
	if ! e2e_alive "$LV_PID"; then
		e2e_show_file "$E2E_DIR/libvirtd.out" 30
		e2e_show_file "$E2E_DIR/libvirtd.log" 30
		LV_PID=""
		e2e_skip "libvirtd exited at start (see its log above)"
	fi
	[ "$SECONDS" -lt "$deadline" ] || e2e_die "libvirtd (pid $LV_PID) did not answer within 20 s"
	sleep 0.2
done
e2e_log "libvirtd (pid $LV_PID) running: $(virsh_ version | tr '\n' ' ' | tr -s ' ')"
# libvirt probes QEMU's capabilities (runs it with -qmp) before the first
# define: many seconds under TCG on a loaded host, its cache being ours.
t0=$SECONDS
VIRSH_TIMEOUT=120 virsh_ domcapabilities --emulatorbin "$E2E_DIR/qemu-tcg" --virttype kvm >"$E2E_DIR/domcaps.xml" ||
	e2e_die "libvirt could not probe $QEMU's capabilities within 120 s"
e2e_log "libvirt probed QEMU's capabilities in $((SECONDS - t0)) s"

# The domain. $1: backend|devnode. One vCPU of two possible
# (-smp 1,maxcpus=2): see E2E_TCG_SMP in e2e-lib.sh.
domain_xml() {
	local backend="" mem=""
	case $1 in
	backend) backend="<backend vhost='$E2E_MNT/vhost-net'/>" ;;
	devnode) mem="<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>" ;;
	esac
	cat <<XML
<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$dom</name>
  <memory unit='MiB'>${E2E_MEM%M}</memory>
  $mem
  <vcpu current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$E2E_DIR/vmlinuz</kernel>
    <initrd>$E2E_DIR/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$E2E_DIR/qemu-tcg</emulator>
    <interface type='ethernet'>
      <target dev='usvtap0' managed='no'/>
      <model type='virtio'/>
      <driver name='vhost'/>
      $backend
    </interface>
    <serial type='file'>
      <source path='$E2E_RUN_DIR/console.log'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-trace'/>
    <qemu:arg value='vhost_dev_start'/>
    <qemu:arg value='-trace'/>
    <qemu:arg value='vhost_dev_stop'/>
    <qemu:arg value='-trace'/>
    <qemu:arg value='virtio_queue_notify'/>
    <qemu:arg value='-D'/>
    <qemu:arg value='$E2E_RUN_DIR/qemu.trace'/>
  </qemu:commandline>
</domain>
XML
}

# Start the domain, note who QEMU is, wait (bounded) until it is shut off.
run_domain() { # VARIANT
	local t0 qpid="" deadline st
	domain_xml "$1" >"$E2E_RUN_DIR/domain.xml"
	chmod 755 "$E2E_RUN_DIR"
	: >"$E2E_RUN_DIR/qemu.trace"
	chown libvirt-qemu "$E2E_RUN_DIR/qemu.trace"
	virsh_ define "$E2E_RUN_DIR/domain.xml" >/dev/null || e2e_die "virsh define failed"
	t0=$SECONDS
	if ! virsh_ start "$dom" >"$E2E_RUN_DIR/virsh-start.out" 2>&1; then
		e2e_fail "virsh start $dom: $(cat "$E2E_RUN_DIR/virsh-start.out")"
		E2E_QEMU_RC=1
	else
		qpid=$(cat "/run/libvirt/qemu/$dom.pid" 2>/dev/null || true)
		echo "$qpid" >"$E2E_DIR/qemu.pid"
		awk '/^(Uid|Gid|Groups|CapEff):/' "/proc/$qpid/status" >"$E2E_RUN_DIR/qemu.status" 2>/dev/null || true
		e2e_log "domain $dom started, QEMU pid ${qpid:-unknown}"
		deadline=$((SECONDS + E2E_QEMU_TIMEOUT))
		while st=$(virsh_ domstate "$dom" --reason 2>/dev/null) && [ "${st%% (*}" != "shut off" ]; do
			[ "$SECONDS" -lt "$deadline" ] || break
			sleep 0.5
		done
		e2e_log "domain state: $st"
		case $st in
		"shut off (destroyed)" | "shut off (shutdown)") E2E_QEMU_RC=0 ;;
		"shut off"*) E2E_QEMU_RC=1 ;;
		*)
			e2e_log "domain still '$st' after $E2E_QEMU_TIMEOUT s; destroying it"
			virsh_ destroy "$dom" >/dev/null 2>&1 || true
			E2E_QEMU_RC=124
			;;
		esac
		[ -z "$qpid" ] || e2e_wait_pid "$qpid" 5 2>/dev/null || true
		rm -f "$E2E_DIR/qemu.pid"
	fi
	virsh_ undefine "$dom" >/dev/null || e2e_fail "virsh undefine $dom failed"
	# libvirt's domain log: its header and QEMU's command line, then QEMU's stderr.
	local log=/var/log/libvirt/qemu/$dom.log
	# The command line spans lines ending in a backslash.
	awk 'state == 2 { print; next }
		/qemu-tcg/ { state = 1 }
		state == 1 && !/\\$/ { state = 2 }' "$log" >"$E2E_RUN_DIR/qemu.err" 2>/dev/null || true
	awk '/qemu-tcg/ { on = 1 } !on { next } !/\\$/ { print; exit } { sub(/ *\\$/, ""); printf "%s ", $0 }' \
		"$log" >"$E2E_RUN_DIR/qemu.cmd" 2>/dev/null || true
	cp "$log" "$E2E_RUN_DIR/domain.log" 2>/dev/null || true
	# libvirt's -msg timestamp=on puts "TID@SECS:" before each trace event.
	mv "$E2E_RUN_DIR/qemu.trace" "$E2E_RUN_DIR/qemu.trace.raw"
	sed -E 's/^[0-9]+@[0-9.]+://' "$E2E_RUN_DIR/qemu.trace.raw" >"$E2E_RUN_DIR/qemu.trace"
	: >"$log"
	e2e_traffic_end "$t0"
	QEMU_PID_WAS=$qpid
}

check_run() { # VARIANT
	local log=$E2E_RUN_DIR/daemon.log st=$E2E_RUN_DIR/qemu.status cmd tid
	cmd=$(cat "$E2E_RUN_DIR/qemu.cmd")
	# libvirt 9 writes -netdev as JSON: {"type":"tap","fd":..,"vhost":true,"vhostfd":..}
	if grep -Eq -- '-netdev [^ ]*"type":"tap"[^ ]*"vhost":true,"vhostfd":"[0-9]+"' <<<"$cmd"; then
		e2e_pass "libvirt gave QEMU $(grep -Eo -- '-netdev [^ ]*' <<<"$cmd")"
	else
		e2e_fail "QEMU's command line has no vhost=on with a vhostfd: $(grep -Eo -- '-netdev [^ ]*' <<<"$cmd")"
	fi
	if grep -q "^Uid:[[:space:]]*$(id -u libvirt-qemu)[[:space:]]" "$st"; then
		e2e_pass "QEMU (pid $QEMU_PID_WAS) ran as libvirt-qemu"
	else
		e2e_fail "QEMU's identity: $(tr '\n' ' ' <"$st" 2>/dev/null)"
	fi
	# libvirtd opens the device (as root) and hands QEMU the fd.
	tid=$(sed -nE 's/.*dev [0-9]+: open by thread ([0-9]+) uid 0 .*/\1/p' "$log" | head -n1)
	if [ -n "$tid" ] && { [ "$tid" = "$LV_PID" ] || [ -e "/proc/$LV_PID/task/$tid" ]; }; then
		e2e_pass "libvirtd (pid $LV_PID, thread $tid) opened the device as root"
	else
		e2e_fail "no open by a libvirtd thread: $(grep -m3 'open by' "$log" | tr '\n' ' ')"
	fi
	if [ -n "$QEMU_PID_WAS" ] && grep -qE "dev [0-9]+: owner $QEMU_PID_WAS \(" "$log"; then
		e2e_pass "SET_OWNER came from QEMU's pid $QEMU_PID_WAS"
	else
		e2e_fail "owner is not QEMU's pid ${QEMU_PID_WAS:-unknown}: $(grep -m3 ': owner ' "$log" | tr '\n' ' ')"
	fi
	e2e_check_mem_strategy "$([ "$1" = devnode ] && echo mmap || echo procmem)"
}

for variant in backend devnode; do
	e2e_log "=== libvirt domain, $variant, $E2E_XFER_MIB MiB each way"
	# libvirtd opens the node as root, but QEMU (libvirt-qemu) makes the
	# ioctls: the FUSE kernel checks every request's sender, and lets a user
	# other than the mounter in only with allow_other, which usvhostd sets
	# when --mode has group or other bits. (A CUSE node is checked at open
	# only: root:kvm 0660 or even 0600 does.)
	e2e_traffic_begin "libvirt-$variant" --mode=0660 --group=kvm
	[ "$variant" = backend ] || mount --bind "$E2E_MNT/vhost-net" /dev/vhost-net
	e2e_flow_g2h 5001
	e2e_flow_h2g 5002 "$E2E_XFER_MIB"
	e2e_ping_guest
	run_domain "$variant"
	[ "$variant" = backend ] || umount /dev/vhost-net
	check_run "$variant"
	e2e_traffic_check 1
	e2e_run_end
done
e2e_finish
