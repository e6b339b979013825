# shellcheck shell=bash
# Helpers for the tests that run inside the test VM (tests/vm/t-*.sh, started
# by tests/vm/vm-init.sh as root in a chroot of the host's root): kernel
# modules from the Debian package, usvhostd on its CUSE front, taps, nested
# KVM guests with plain vhost=on, traffic and its proof.
#
#   . "$top_srcdir/tests/vm/vm-lib.sh" NAME
#
# Logs go to $VM_OUT (RESULTS/NAME/ on the host). Checks use tests/lib/e2e-lib.sh
# (e2e_pass, e2e_fail, e2e_finish...). Every wait is bounded.

VM_TEST=${1:?vm-lib.sh needs the test name}
E2E_NAME=vm:$VM_TEST
# shellcheck source=../lib/e2e-lib.sh
. "$top_srcdir/tests/lib/e2e-lib.sh"

VM_CACHE=$VM_ROOT/cache
VM_KROOT=$VM_CACHE/$VM_KROOT_REL
VM_KMOD=$VM_KROOT/lib/modules/$USVHOST_KVER
VM_VMLINUZ=$VM_CACHE/$VM_VMLINUZ_REL
VM_NESTED_INITRD=$VM_CACHE/$VM_NESTED_INITRD_REL
VM_OUT=$VM_RESULTS/$VM_TEST
VM_WORK=$(mktemp -d "/tmp/vm-$VM_TEST.XXXXXX")
VM_NESTED_TIMEOUT=${VM_NESTED_TIMEOUT:-180}
VM_BLOB_BYTES=${VM_BLOB_BYTES:-4194304}
VM_DAEMON_PID=""
VM_DAEMON_LOG=""
VM_DAEMON_STATS=""
VM_DAEMON_NAME=""
VM_BG_PIDS=()
VM_TAPS=()
declare -A VM_GUEST_PID=() VM_GUEST_RC=() VM_GUEST_FLOWS=()
rm -rf "$VM_OUT"
mkdir -p "$VM_OUT"

vm_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Wait at most SECS for our child PID to be gone; sets VM_WAIT_RC. Unlike a
# plain 'wait', never blocks on a process that cannot finish dying: a
# CUSE server whose own thread waits on a request to its own node stays a
# zombie leader with a live thread even after SIGKILL (CUSE connections
# have no fusectl abort file), and 'wait' would block for good.
vm_wait_pid() { # PID SECS
	local pid=$1 deadline=$((SECONDS + $2)) st tasks
	while :; do
		st=$(cat "/proc/$pid/stat" 2>/dev/null) || break
		st=${st##*) }
		if [ "${st%% *}" = Z ]; then
			tasks=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
			[ "$tasks" -le 1 ] && break
		fi
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
	VM_WAIT_RC=0
	wait "$pid" 2>/dev/null || VM_WAIT_RC=$?
	return 0
}

# ---- kernel modules --------------------------------------------------------
# The host has no kmod: resolve dependencies from the package's modules.dep
# (depmod lists every dependency, deepest last) and insmod with busybox.

vm_module_loaded() { [ -d "/sys/module/${1//-/_}" ]; }

vm_modprobe() { # NAME...
	local name line path deps d i
	for name; do
		vm_module_loaded "$name" && continue
		line=$(grep -E "(^|/)(${name//_/[_-]})\.ko(\.[a-z]+)?:" "$VM_KMOD/modules.dep" | head -n 1)
		if [ -z "$line" ]; then
			if grep -qE "/${name//_/[_-]}\.ko" "$VM_KMOD/modules.builtin" 2>/dev/null; then
				continue
			fi
			e2e_log "module $name: not in $VM_KMOD/modules.dep"
			return 1
		fi
		path=${line%%:*}
		read -r -a deps <<<"${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			d=${deps[i]##*/}
			d=${d%%.ko*}
			vm_module_loaded "$d" && continue
			busybox insmod "$VM_KMOD/${deps[i]}" || { e2e_log "insmod ${deps[i]} failed"; return 1; }
		done
		busybox insmod "$VM_KMOD/$path" || { e2e_log "insmod $path failed"; return 1; }
	done
}

vm_rmmod() { # NAME...
	local name
	for name; do
		vm_module_loaded "$name" || continue
		busybox rmmod "$name" || { e2e_log "rmmod $name failed"; return 1; }
	done
}

# /dev/kvm on the VM's emulated CPU (TCG -cpu max has SVM).
vm_require_kvm() {
	[ -c /dev/kvm ] && return 0
	vm_modprobe kvm_amd 2>/dev/null || vm_modprobe kvm_intel 2>/dev/null || true
	local i
	for i in $(seq 1 20); do
		[ -c /dev/kvm ] && return 0
		sleep 0.1
	done
	e2e_skip "no /dev/kvm in the VM (kvm_amd/kvm_intel would not load: $(grep -m1 -o -w -E 'svm|vmx' /proc/cpuinfo || echo 'no svm/vmx flag'))"
}

# The kernel's vhost_net holds /dev/vhost-net (misc 10:238) or it does not.
vm_kernel_vhost() { # on|off
	if [ "$1" = on ]; then
		vm_modprobe vhost_net || e2e_die "cannot load vhost_net"
		vm_wait_node vhost-net 5 || e2e_die "vhost_net loaded but /dev/vhost-net did not appear"
	else
		vm_rmmod vhost_net || e2e_die "cannot unload vhost_net"
		[ ! -e /dev/vhost-net ] || e2e_die "/dev/vhost-net still there after rmmod vhost_net"
	fi
}

# ---- usvhostd on the CUSE front ---------------------------------------------

vm_wait_node() { # NAME SECS: /dev/NAME becomes a character device
	local deadline=$(($(vm_now_ms) + $2 * 1000))
	until [ -c "/dev/$1" ]; do
		[ "$(vm_now_ms)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

# usvhostd supports --stats (the datapath's counters) or not yet.
vm_daemon_has_stats() { "$USVHOSTD" --help 2>&1 | grep -q -- '--stats'; }

# Start usvhostd --transport=cuse --name=NAME in the foreground at debug
# level, logging to $VM_OUT/daemon-TAG.log; wait for /dev/NAME. Extra
# arguments go to the daemon. Sets VM_DAEMON_PID, VM_DAEMON_LOG,
# VM_DAEMON_STATS (empty when the daemon has no --stats).
vm_daemon_start() { # TAG NAME [ARGS...]
	local tag=$1 name=$2 t0 t1
	shift 2
	[ -x "$USVHOSTD" ] || e2e_die "$USVHOSTD not built"
	[ ! -e "/dev/$name" ] || e2e_die "/dev/$name exists before usvhostd started"
	vm_fusectl
	VM_DAEMON_LOG=$VM_OUT/daemon-$tag.log
	VM_DAEMON_NAME=$name
	VM_DAEMON_STATS=""
	local -a extra=()
	if vm_daemon_has_stats; then
		VM_DAEMON_STATS=$VM_OUT/stats-$tag.txt
		extra+=(--stats="$VM_DAEMON_STATS")
	fi
	t0=$(vm_now_ms)
	"$USVHOSTD" --transport=cuse --name="$name" --foreground --log-level=debug \
		"${extra[@]+"${extra[@]}"}" "$@" </dev/null >"$VM_DAEMON_LOG" 2>&1 &
	VM_DAEMON_PID=$!
	until [ -c "/dev/$name" ]; do
		if ! e2e_alive "$VM_DAEMON_PID"; then
			e2e_wait_pid "$VM_DAEMON_PID" 1 || true
			VM_DAEMON_PID=""
			e2e_show_file "$VM_DAEMON_LOG" 30
			e2e_die "usvhostd exited (status $E2E_WAIT_RC) before /dev/$name appeared"
		fi
		if [ $(($(vm_now_ms) - t0)) -gt 10000 ]; then
			e2e_show_file "$VM_DAEMON_LOG" 30
			e2e_die "/dev/$name did not appear within 10 s of starting usvhostd"
		fi
		sleep 0.02
	done
	t1=$(vm_now_ms)
	VM_NODE_MS=$((t1 - t0))
	e2e_log "usvhostd (pid $VM_DAEMON_PID) serves /dev/$name ($(stat -c 'char %t:%T' "/dev/$name"), after $VM_NODE_MS ms)${VM_DAEMON_STATS:+, counters in ${VM_DAEMON_STATS##*/}}"
}

# SIGTERM; the daemon must exit 0 and take its node with it.
vm_daemon_stop() {
	local pid=$VM_DAEMON_PID i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	if vm_wait_pid "$pid" 15; then
		if [ "$VM_WAIT_RC" = 0 ]; then
			e2e_pass "usvhostd exited 0 on SIGTERM"
		else
			e2e_fail "usvhostd exit status $VM_WAIT_RC on SIGTERM"
		fi
	else
		e2e_fail "usvhostd did not exit within 15 s of SIGTERM: $(vm_proc_state "$pid")"
		vm_fuse_abort_all
		kill -KILL "$pid" 2>/dev/null
		vm_wait_pid "$pid" 5 ||
			e2e_log "usvhostd (pid $pid) survives SIGKILL: $(vm_proc_state "$pid"); leaving it"
	fi
	VM_DAEMON_PID=""
	# A system call the allow-list refused is a path the list misses (the
	# CUSE front's are only reached here).
	if grep -q 'seccomp: refused system call' "$VM_DAEMON_LOG" 2>/dev/null; then
		e2e_fail "the daemon made a system call its seccomp allow-list refuses: $(grep -m1 'seccomp: refused' "$VM_DAEMON_LOG")"
	fi
	for i in $(seq 1 50); do
		[ -e "/dev/$VM_DAEMON_NAME" ] || break
		sleep 0.05
	done
	if [ -e "/dev/$VM_DAEMON_NAME" ]; then
		e2e_fail "/dev/$VM_DAEMON_NAME still there after usvhostd exited"
	else
		e2e_pass "/dev/$VM_DAEMON_NAME removed when usvhostd exited"
	fi
	if grep -qiE 'sanitizer|runtime error|segmentation|assertion' "$VM_DAEMON_LOG"; then
		e2e_fail "the daemon log reports a crash: $(grep -iE 'sanitizer|runtime error|segmentation|assertion' "$VM_DAEMON_LOG" | head -n 2 | tr '\n' ' ')"
	fi
}

# What a process's threads are waiting on, for a report.
vm_proc_state() { # PID
	local t out=""
	for t in /proc/"$1"/task/*; do
		[ -e "$t/stat" ] || continue
		out="$out ${t##*/}:$(cut -d' ' -f3 "$t/stat" 2>/dev/null)/$(cat "$t/wchan" 2>/dev/null)"
	done
	echo "threads${out:- none}"
}

# fusectl: its abort files are the only way to free a caller stuck in a
# request the server read and never answers (even SIGKILL waits for it).
vm_fusectl() {
	[ -d /sys/fs/fuse/connections ] || return 0
	grep -q ' /sys/fs/fuse/connections fusectl ' /proc/mounts ||
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null || true
}

# Unblock every caller of a CUSE/FUSE server that stopped answering (the VM
# has no other FUSE connections than ours).
vm_fuse_abort_all() {
	vm_fusectl
	local a
	for a in /sys/fs/fuse/connections/*/abort; do
		[ -w "$a" ] && echo 1 >"$a" 2>/dev/null
	done
	return 0
}

# ---- network: taps, the blob the guests fetch, the listeners they send to --

vm_tap() { # NAME ADDR/PREFIX [multi_queue]
	ip link del "$1" 2>/dev/null || true
	ip tuntap add dev "$1" mode tap ${3:+multi_queue} || e2e_die "ip tuntap add $1 failed"
	VM_TAPS+=("$1")
	ip addr add "$2" dev "$1"
	ip link set "$1" up
}

# One blob of random bytes that every guest fetches (its RX direction).
vm_blob() {
	head -c "$VM_BLOB_BYTES" /dev/urandom >"$VM_WORK/blob"
	VM_BLOB_SHA=$(sha256sum "$VM_WORK/blob" | cut -d' ' -f1)
}

# busybox nc exits as soon as its peer's half reaches EOF, with input left
# unsent: the receiving side reads stdin from a FIFO held open for writing
# (fd VM_HOLD_FD), so it never shuts its half down first.
vm_hold_fd() {
	[ -n "${VM_HOLD_FD:-}" ] && return 0
	mkfifo "$VM_WORK/hold"
	exec {VM_HOLD_FD}<>"$VM_WORK/hold"
}

# nc listeners for a guest: port RX+i sends the blob (guest RX), port TX+i
# writes what arrives to $VM_WORK/tx-TAG.i (guest TX).
vm_listen() { # TAG RX-PORT TX-PORT FLOWS
	local i
	[ -n "${VM_BLOB_SHA:-}" ] || vm_blob
	vm_hold_fd
	for ((i = 0; i < $4; i++)); do
		timeout 600 busybox nc -l -p $(($2 + i)) <"$VM_WORK/blob" >/dev/null 2>&1 &
		VM_BG_PIDS+=($!)
		timeout 600 busybox nc -l -p $(($3 + i)) <&"$VM_HOLD_FD" >"$VM_WORK/tx-$1.$i" 2>/dev/null &
		VM_BG_PIDS+=($!)
	done
}

# ---- nested guests -----------------------------------------------------------

# Boot a nested guest in the background:
#   vm_guest_start TAG TAP GUEST-ADDR/PREFIX PEER [--queues=N] [--smp=N]
#                  [--flows=N] [--rx=PORT] [--tx=PORT] [--mem=SIZE]
# Ports: the guest fetches from RX+i and sends to TX+i, flow i (default
# 5101 and 5001): give concurrent guests distinct ones.
# Plain -netdev tap,...,vhost=on: QEMU opens /dev/vhost-net itself.
vm_guest_start() {
	local tag=$1 tap=$2 addr=$3 peer=$4 queues=1 smp=1 flows=1 rx=5101 tx=5001 mem=256M
	local devopts="" kargs="" machine=""
	local -a more=()
	shift 4
	while [ $# -gt 0 ]; do
		case $1 in
		--device-opts=*) devopts=,${1#*=} ;;    # more virtio-net-pci properties
		--append=*) kargs=" ${1#*=}" ;;          # more guest kernel arguments
		--machine=*) machine=${1#*=} ;;
		--) shift; more=("$@"); break ;;         # more QEMU arguments (before the NIC)
		--queues=*) queues=${1#*=} ;;
		--smp=*) smp=${1#*=} ;;
		--flows=*) flows=${1#*=} ;;
		--rx=*) rx=${1#*=} ;;
		--tx=*) tx=${1#*=} ;;
		--mem=*) mem=${1#*=} ;;
		*) e2e_die "vm_guest_start: unknown option $1" ;;
		esac
		shift
	done
	local netdev="tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=on"
	local device="virtio-net-pci,netdev=n0$devopts"
	if [ "$queues" -gt 1 ]; then
		netdev="$netdev,queues=$queues"
		device="$device,mq=on,vectors=$((2 * queues + 2))"
	fi
	local -a args=(-accel "${VM_NESTED_ACCEL:-kvm}" ${machine:+-machine "$machine"}
		-cpu qemu64 -smp "$smp" -m "$mem" -nodefaults -display none
		-serial "file:$VM_OUT/guest-$tag.console"
		-kernel "$VM_VMLINUZ" -initrd "$VM_NESTED_INITRD"
		-append "console=ttyS0 panic=-1 ${VM_NESTED_QUIET-quiet}${VM_NESTED_APPEND:+ $VM_NESTED_APPEND} usvhost.ip=$addr usvhost.peer=$peer usvhost.rx=$rx usvhost.tx=$tx usvhost.flows=$flows usvhost.bytes=$VM_BLOB_BYTES$kargs"
		"${more[@]+"${more[@]}"}" -netdev "$netdev" -device "$device"
		-trace vhost_dev_start -trace vhost_dev_stop -trace virtqueue_pop
		-d cpu_reset -D "$VM_OUT/guest-$tag.trace")
	# VM_NESTED_NOREBOOT=0 (diagnostics): a triple fault resets the vCPU
	# instead of ending QEMU, and -d cpu_reset logs the registers at the fault.
	[ "${VM_NESTED_NOREBOOT:-1}" = 0 ] || args+=(-no-reboot)
	printf '%q ' qemu-system-x86_64 "${args[@]}" >"$VM_OUT/guest-$tag.cmd"
	echo >>"$VM_OUT/guest-$tag.cmd"
	VM_GUEST_FLOWS[$tag]=$flows
	vm_listen "$tag" "$rx" "$tx" "$flows"
	qemu-system-x86_64 "${args[@]}" </dev/null >"$VM_OUT/guest-$tag.err" 2>&1 &
	VM_GUEST_PID[$tag]=$!
	e2e_log "guest $tag: started (pid ${VM_GUEST_PID[$tag]}) on $tap, $addr, queues=$queues smp=$smp flows=$flows"
}

# Wait for the guest to power off (bounded); sets VM_GUEST_RC[TAG].
vm_guest_wait() { # TAG [SECS]
	local tag=$1 pid=${VM_GUEST_PID[$1]} t0=$SECONDS
	if vm_wait_pid "$pid" "${2:-$VM_NESTED_TIMEOUT}"; then
		VM_GUEST_RC[$tag]=$VM_WAIT_RC
	else
		e2e_log "guest $tag: still running after ${2:-$VM_NESTED_TIMEOUT} s: killing QEMU"
		kill -KILL "$pid" 2>/dev/null
		vm_wait_pid "$pid" 10 || e2e_log "guest $tag: QEMU survives SIGKILL: $(vm_proc_state "$pid")"
		VM_GUEST_RC[$tag]=124
	fi
	e2e_log "guest $tag: QEMU exited ${VM_GUEST_RC[$tag]} (waited $((SECONDS - t0)) s)"
	# A guest that dies without a word (QEMU exits 0 under -no-reboot) has
	# reset itself, e.g. a triple fault: more CPU resets than at power-on.
	e2e_log "guest $tag: CPU resets QEMU logged: $(grep -c '^CPU Reset' "$VM_OUT/guest-$tag.trace" 2>/dev/null) (power-on resets each vCPU)"
}

vm_console() { tr -d '\r' <"$VM_OUT/guest-$1.console" 2>/dev/null; }

# The guest came up on vhost: DRIVER_OK, QEMU clean, vhost started.
vm_guest_check_up() { # TAG
	local tag=$1 err=$VM_OUT/guest-$1.err trace=$VM_OUT/guest-$1.trace line
	line=$(vm_console "$tag" | grep -m1 '^USVHOST_NESTED_UP' || true)
	if [ -n "$line" ]; then
		e2e_pass "guest $tag: virtio-net reached DRIVER_OK, eth0 up (${line#USVHOST_NESTED_UP })"
	else
		e2e_fail "guest $tag: no USVHOST_NESTED_UP line (driver did not come up)"
	fi
	if [ "${VM_GUEST_RC[$tag]}" = 0 ]; then
		e2e_pass "guest $tag: QEMU exited 0"
	else
		e2e_fail "guest $tag: QEMU exit status ${VM_GUEST_RC[$tag]}"
	fi
	if grep -Eiq 'vhost|falling back|userspace virtio' "$err"; then
		e2e_fail "guest $tag: QEMU complained about vhost: $(grep -Ei 'vhost|falling back|userspace virtio' "$err" | head -n 3 | tr '\n' ' ')"
	else
		e2e_pass "guest $tag: no vhost warning on QEMU's stderr"
	fi
	if grep -q '^vhost_dev_start' "$trace" 2>/dev/null; then
		e2e_pass "guest $tag: QEMU started vhost ($(grep -c '^vhost_dev_start' "$trace") vhost_dev_start)"
	else
		e2e_fail "guest $tag: QEMU never started vhost (no vhost_dev_start in its trace)"
		# Say so when it looks like the nested guest's own death
		# (docs/testing-vm.md): nothing on its console, QEMU exited 0.
		if [ "${VM_GUEST_RC[$tag]}" = 0 ] && [ ! -s "$VM_OUT/guest-$tag.console" ]; then
			e2e_log "guest $tag: died before its kernel printed anything and before vhost started, so before any vhost backend had its memory: the nested-guest death of docs/testing-vm.md, not the backend"
		fi
	fi
}

# Ping and both transfers, checksums compared; QEMU popped (almost) nothing
# itself, so the packets were moved by the vhost device.
vm_guest_check_traffic() { # TAG
	local tag=$1 con i want got bytes pops pkts
	con=$(vm_console "$tag")
	if grep -q '^USVHOST_NESTED_PING ok' <<<"$con"; then
		e2e_pass "guest $tag: pinged the VM ($(grep -m1 '^USVHOST_NESTED_PING' <<<"$con" | cut -d' ' -f3-))"
	else
		e2e_fail "guest $tag: ping to the VM failed"
	fi
	for ((i = 0; i < VM_GUEST_FLOWS[$tag]; i++)); do
		got=$(sed -n "s/^USVHOST_NESTED_RX flow=$i bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p" <<<"$con")
		if [ "$got" = "$VM_BLOB_BYTES $VM_BLOB_SHA" ]; then
			e2e_pass "guest $tag: RX flow $i (VM -> guest, TCP): $VM_BLOB_BYTES bytes, sha256 matches"
		else
			e2e_fail "guest $tag: RX flow $i: guest got '${got:-nothing}', VM sent '$VM_BLOB_BYTES $VM_BLOB_SHA'"
		fi
		want=$(sed -n "s/^USVHOST_NESTED_TX flow=$i bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p" <<<"$con")
		bytes=$(wc -c <"$VM_WORK/tx-$tag.$i" 2>/dev/null || echo 0)
		got="$bytes $(sha256sum "$VM_WORK/tx-$tag.$i" 2>/dev/null | cut -d' ' -f1)"
		if [ -n "$want" ] && [ "$got" = "$want" ]; then
			e2e_pass "guest $tag: TX flow $i (guest -> VM, TCP): $bytes bytes, sha256 matches"
		else
			e2e_fail "guest $tag: TX flow $i: guest sent '${want:-nothing}', VM received '$got'"
		fi
	done
	if grep -q '^USVHOST_NESTED_DONE' <<<"$con" && grep -q '^USVHOST_GUEST_EXIT=0' <<<"$con"; then
		e2e_pass "guest $tag: guest script finished cleanly"
	else
		e2e_fail "guest $tag: guest script did not finish cleanly ($(grep -ao 'USVHOST_GUEST_EXIT=[0-9]*' <<<"$con" || echo 'no exit line'))"
	fi
	# In QEMU's userspace virtio-net every packet is a virtqueue_pop; with
	# vhost only the control queue's few commands are.
	pops=$(grep -c '^virtqueue_pop' "$VM_OUT/guest-$tag.trace" 2>/dev/null || true)
	pkts=$(sed -n 's/^USVHOST_NESTED_STATS rx_packets=\([0-9]*\) tx_packets=\([0-9]*\)/\1 + \2/p' <<<"$con")
	pkts=$((${pkts:-0}))
	if [ "$pops" -lt 64 ] && [ "$pkts" -gt 0 ]; then
		e2e_pass "guest $tag: QEMU itself popped $pops virtqueue elements (control queue) while the guest moved $pkts packets: the data queues were served by the vhost device"
	else
		e2e_fail "guest $tag: QEMU popped $pops virtqueue elements while the guest moved $pkts packets (QEMU's own datapath?)"
	fi
}

vm_guest_show_logs() { # TAG
	e2e_show_file "$VM_OUT/guest-$1.cmd" 5
	e2e_show_file "$VM_OUT/guest-$1.console" 60
	e2e_show_file "$VM_OUT/guest-$1.err" 20
	e2e_show_file "$VM_OUT/guest-$1.trace" 10
}

# ---- usvhostd's counters ------------------------------------------------------

# While guests run, copy usvhostd's stats file every half second: lines of
# released devices are folded into one "released" total, so per-guest
# figures (by tap name) come from these samples.
vm_stats_sampler_start() {
	[ -n "$VM_DAEMON_STATS" ] || return 0
	(
		while :; do
			if [ -s "$VM_DAEMON_STATS" ]; then
				sed "s/^/t=$(date +%s.%N | cut -c1-14) /" "$VM_DAEMON_STATS"
			fi
			sleep 0.5
		done
	) >>"$VM_DAEMON_STATS.samples" 2>/dev/null &
	VM_SAMPLER_PID=$!
	VM_BG_PIDS+=("$VM_SAMPLER_PID")
}

vm_stats_sampler_stop() {
	[ -n "${VM_SAMPLER_PID:-}" ] || return 0
	kill "$VM_SAMPLER_PID" 2>/dev/null
	wait "$VM_SAMPLER_PID" 2>/dev/null || true
	VM_SAMPLER_PID=""
}

# Sum FIELD over the lines of FILE that match every pattern.
vm_stats_sum() { # FILE FIELD [PATTERN...]
	local f=$1 field=$2 lines p
	shift 2
	[ -s "$f" ] || { echo 0; return; }
	lines=$(cat "$f")
	for p in "$@"; do lines=$(grep -E -- "$p" <<<"$lines" || true); done
	grep -oE "(^| )$field=[0-9]+" <<<"$lines" | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }'
}

# Per tap, from the samples: the highest count each ring reached while it
# was attached to that tap, summed over the rings. DIR is rx or tx.
vm_stats_by_tap() { # TAP DIR FIELD
	local f=$VM_DAEMON_STATS.samples
	[ -s "$f" ] || { echo 0; return; }
	awk -v tap="backend=tap:$1" -v dir="dir=$2" -v field="$3" '
	index($0, " " tap " ") && index($0, " " dir " ") {
		key = $2 " " $3
		for (i = 1; i <= NF; i++)
			if (index($i, field "=") == 1) {
				v = substr($i, length(field) + 2) + 0
				if (v > max[key]) max[key] = v
			}
	}
	END { for (k in max) s += max[k]; print s + 0 }' "$f"
}

# The rings of the devices QEMU drove for this tap (distinct dev handles
# seen in the samples while attached to it).
vm_stats_devs_of_tap() { # TAP
	local f=$VM_DAEMON_STATS.samples
	[ -s "$f" ] || return 0
	grep -F " backend=tap:$1 " "$f" | grep -oE ' dev=[0-9]+' | sort -u | tr -d ' ' | tr '\n' ' '
}

# Traffic went through usvhostd: its counters against what the guests say
# they moved. Call after vm_daemon_stop (the file is rewritten at exit, with
# released devices in the "released" lines).
vm_check_counters() { # WHAT GUEST-TAG:TAP...
	local what=$1 g tag tap con rxg=0 txg=0 rxp txp rxb txb n
	shift
	for g; do
		tag=${g%%:*}
		con=$(vm_console "$tag")
		n=$(sed -n 's/^USVHOST_NESTED_STATS rx_packets=\([0-9]*\).*/\1/p' <<<"$con" | head -n1)
		rxg=$((rxg + ${n:-0}))
		n=$(sed -n 's/^USVHOST_NESTED_STATS.*tx_packets=\([0-9]*\).*/\1/p' <<<"$con" | head -n1)
		txg=$((txg + ${n:-0}))
	done
	if [ -z "$VM_DAEMON_STATS" ]; then
		e2e_fail "$what: usvhostd has no --stats (the datapath's counters): cannot show that the traffic went through it"
		return
	fi
	if [ ! -s "$VM_DAEMON_STATS" ]; then
		e2e_fail "$what: usvhostd's stats file ${VM_DAEMON_STATS##*/} is empty or missing"
		return
	fi
	sed "s/^/[$E2E_NAME]   stats at exit: /" "$VM_DAEMON_STATS"
	rxp=$(vm_stats_sum "$VM_DAEMON_STATS" packets 'dir=rx')
	txp=$(vm_stats_sum "$VM_DAEMON_STATS" packets 'dir=tx')
	rxb=$(vm_stats_sum "$VM_DAEMON_STATS" bytes 'dir=rx')
	txb=$(vm_stats_sum "$VM_DAEMON_STATS" bytes 'dir=tx')
	if [ "$rxp" -gt 0 ] && [ "$rxp" -ge "$rxg" ] && [ "$rxb" -ge "$VM_BLOB_BYTES" ]; then
		e2e_pass "$what: usvhostd's RX rings delivered $rxp packets, $rxb bytes (the guests received $rxg packets)"
	else
		e2e_fail "$what: usvhostd's RX rings delivered $rxp packets, $rxb bytes; the guests received $rxg packets and at least $VM_BLOB_BYTES bytes"
	fi
	if [ "$txp" -gt 0 ] && [ "$txp" -ge "$txg" ] && [ "$txb" -ge "$VM_BLOB_BYTES" ]; then
		e2e_pass "$what: usvhostd's TX rings sent $txp packets, $txb bytes (the guests sent $txg packets)"
	else
		e2e_fail "$what: usvhostd's TX rings sent $txp packets, $txb bytes; the guests sent $txg packets and at least $VM_BLOB_BYTES bytes"
	fi
	# Per guest, from the samples taken while it ran.
	for g; do
		tag=${g%%:*} tap=${g#*:}
		rxp=$(vm_stats_by_tap "$tap" rx packets)
		txp=$(vm_stats_by_tap "$tap" tx packets)
		rxb=$(vm_stats_by_tap "$tap" rx bytes)
		txb=$(vm_stats_by_tap "$tap" tx bytes)
		if [ "$rxp" -gt 0 ] && [ "$txp" -gt 0 ]; then
			e2e_pass "$what: guest $tag ($tap, $(vm_stats_devs_of_tap "$tap")): usvhostd moved rx $rxp packets/$rxb bytes, tx $txp packets/$txb bytes while it ran"
		else
			e2e_fail "$what: guest $tag ($tap): usvhostd's samples show rx $rxp, tx $txp packets for this tap"
		fi
	done
}

# ---- cleanup -----------------------------------------------------------------

vm_cleanup() {
	local rc=$? p
	set +e
	trap - EXIT INT TERM
	for p in "${VM_GUEST_PID[@]}"; do
		e2e_alive "$p" && kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$VM_DAEMON_PID" ] && e2e_alive "$VM_DAEMON_PID"; then
		kill -TERM "$VM_DAEMON_PID" 2>/dev/null
		vm_wait_pid "$VM_DAEMON_PID" 5 || { vm_fuse_abort_all; kill -KILL "$VM_DAEMON_PID" 2>/dev/null; }
	fi
	for p in "${VM_BG_PIDS[@]+"${VM_BG_PIDS[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${VM_TAPS[@]+"${VM_TAPS[@]}"}"; do
		ip link del "$p" 2>/dev/null
	done
	rm -rf "$VM_WORK"
	exit "$rc"
}
trap vm_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
