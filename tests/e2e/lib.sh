# shellcheck shell=bash
# Shared helpers for the end-to-end tests and scripts/run-guest.sh: start
# usvhostd on its FUSE front, make a tap, boot unmodified QEMU with vhost=on,
# check what happened, and clean up on every exit path without ever hanging.
#
# Sourced by bash scripts running with `set -eu`. Typical use:
#   . "$top_srcdir/tests/e2e/lib.sh"
#   e2e_require_host               # root, /dev/fuse, /dev/net/tun, qemu (else skip)
#   e2e_guest_kernel               # may download: before leaving the host network
#   e2e_enter_namespaces "$@"      # re-exec in private mount + network namespaces
#   e2e_setup                      # work dir + cleanup trap
#   e2e_mkinitramfs "$E2E_DIR/initrd.gz" guest-script
#   e2e_make_tap usvtap0 10.0.77.1/24
#   e2e_run_begin memfd; e2e_start_daemon; e2e_boot_guest --ram=memfd ...; e2e_stop_daemon
#
# Tunables (environment): E2E_QEMU_TIMEOUT (s, default 60), E2E_MEM (512M),
# USVHOSTD (daemon binary), QEMU (qemu-system-x86_64), E2E_KEEP_LOGS (copy the
# logs there), USVHOST_E2E_REQUIRE=1 (a missing prerequisite fails, not skips).

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${E2E_QEMU_TIMEOUT:=60}"
: "${E2E_MEM:=512M}"
: "${QEMU:=qemu-system-x86_64}"
: "${USVHOSTD:=$top_builddir/src/usvhostd}"

E2E_NAME=${E2E_NAME:-$(basename "$0")}
E2E_DIR=""          # scratch dir (logs, mounts, images)
E2E_RUN_DIR=""      # per-run subdir: daemon.log, console.log, qemu.err, qemu.trace
E2E_MNT=""          # current FUSE mount (holds vhost-net)
E2E_DAEMON_PID=""
E2E_QEMU_PID=""
E2E_QEMU_RC=""
E2E_MOUNTS=()       # every mount point we asked a daemon for
E2E_TAPS=()
E2E_FAILS=0
E2E_RUN_FAILS0=0    # E2E_FAILS when the current run began
E2E_LOGS_SHOWN=0    # the current run's logs were printed
E2E_FINISHED=0

e2e_log() { echo "[$E2E_NAME] $*"; }

# Loud (on stdout for the test log, and on stderr for the terminal), because
# a silent skip looks like a pass in CI summaries.
e2e_skip() {
	local bar="======================================================================" what="SKIP"
	[ "${USVHOST_E2E_REQUIRE:-0}" != 1 ] || what="FAIL (USVHOST_E2E_REQUIRE=1, would skip)"
	printf '%s\n%s: %s: %s\n%s\n' "$bar" "$what" "$E2E_NAME" "$*" "$bar"
	[ -t 1 ] || printf '%s: %s: %s\n' "$what" "$E2E_NAME" "$*" >&2
	[ "${USVHOST_E2E_REQUIRE:-0}" != 1 ] || exit 1
	exit 77
}

e2e_die() {
	echo "[$E2E_NAME] FAIL: $*"
	exit 1
}

# Record a failed check and go on, so one run reports every broken assertion.
e2e_fail() {
	echo "[$E2E_NAME] FAIL: $*"
	E2E_FAILS=$((E2E_FAILS + 1))
}

e2e_pass() { echo "[$E2E_NAME] ok: $*"; }

# Prerequisites that are properties of the host, not of usvhost: skip if absent.
e2e_require_host() {
	[ "$(id -u)" = 0 ] || e2e_skip "needs root (FUSE mount, tap device, namespaces)"
	[ -c /dev/fuse ] || e2e_skip "/dev/fuse missing (no FUSE in this kernel/container)"
	[ -c /dev/net/tun ] || e2e_skip "/dev/net/tun missing (no tun/tap)"
	command -v "$QEMU" >/dev/null 2>&1 || e2e_skip "$QEMU not installed (apt-get install qemu-system-x86)"
	command -v unshare >/dev/null 2>&1 || e2e_skip "unshare missing (util-linux)"
	command -v ip >/dev/null 2>&1 || e2e_skip "ip missing (apt-get install iproute2)"
	[ -x /bin/busybox ] || e2e_skip "/bin/busybox missing (apt-get install busybox-static)"
	if [ -z "${USVHOST_E2E_NS:-}" ] && ! unshare -m -n --propagation private true 2>/dev/null; then
		e2e_skip "cannot create mount+network namespaces (unshare -m -n failed)"
	fi
}

# Sets USVHOST_KVER, USVHOST_VMLINUZ, USVHOST_MODDIR (downloads once, cached).
e2e_guest_kernel() {
	local env
	env=$("$top_srcdir/scripts/guest-kernel.sh" --quiet) ||
		e2e_skip "cannot get the guest kernel (scripts/guest-kernel.sh failed; offline?)"
	eval "$env"
}

# Re-run the calling script in private mount and network namespaces: the FUSE
# mount and the tap never touch the host, and both vanish with the last process.
e2e_enter_namespaces() {
	[ -n "${USVHOST_E2E_NS:-}" ] && return 0
	export USVHOST_E2E_NS=1 top_srcdir top_builddir
	exec unshare -m -n --propagation private -- "$BASH" "$0" "$@"
}

e2e_setup() {
	[ -n "${USVHOST_E2E_NS:-}" ] || e2e_die "e2e_setup called outside e2e_enter_namespaces"
	E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-e2e.XXXXXX")
	trap e2e_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	# The abort files let cleanup unblock callers of a daemon that stopped answering.
	if [ -d /sys/fs/fuse/connections ] && ! grep -q ' - fusectl ' /proc/self/mountinfo; then
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null || true
	fi
	ip link set lo up 2>/dev/null || true
}

e2e_mkinitramfs() { # OUT GUEST-SCRIPT [mkinitramfs options]
	local out=$1 script=$2
	shift 2
	"$top_srcdir/scripts/mkinitramfs.sh" --quiet --output="$out" --script="$script" \
		--add="$top_srcdir/tests/e2e/guest-lib.sh:/usvhost/guest-lib.sh" "$@" ||
		e2e_die "scripts/mkinitramfs.sh failed"
}

e2e_make_tap() { # NAME [ADDR/PREFIX]
	ip tuntap add dev "$1" mode tap || e2e_die "ip tuntap add dev $1 failed"
	E2E_TAPS+=("$1")
	[ -z "${2:-}" ] || ip addr add "$2" dev "$1"
	ip link set "$1" up
}

# Start a run: its logs go to their own subdirectory.
e2e_run_begin() { # NAME
	E2E_RUN_DIR=$E2E_DIR/$1
	mkdir -p "$E2E_RUN_DIR"
	E2E_QEMU_RC=""
	E2E_RUN_FAILS0=$E2E_FAILS
	E2E_LOGS_SHOWN=0
}

# ---- processes -------------------------------------------------------------

# Alive and not a zombie (kill -0 succeeds on zombies).
e2e_alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# Wait at most SECS for our child PID to exit. Returns 0 and sets E2E_WAIT_RC
# to its exit status, or returns 1 if it is still running.
e2e_wait_pid() { # PID SECS
	local pid=$1 deadline=$((SECONDS + $2))
	while e2e_alive "$pid"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
	E2E_WAIT_RC=0
	wait "$pid" 2>/dev/null || E2E_WAIT_RC=$?
	return 0
}

# major:minor of the FUSE mount at DIR, from mountinfo (stat could block).
e2e_mount_dev() {
	awk -v m="$1" '$5 == m && $0 ~ / - fuse/ { print $3; exit }' /proc/self/mountinfo
}

e2e_is_mounted() { [ -n "$(e2e_mount_dev "$1")" ]; }

# Fail every pending and future request of the FUSE connection behind DIR:
# the only way to free callers blocked on a daemon that stopped answering.
e2e_fuse_abort() { # DIR
	local dev
	dev=$(e2e_mount_dev "$1")
	[ -n "$dev" ] || return 0
	if [ -w "/sys/fs/fuse/connections/${dev#*:}/abort" ]; then
		e2e_log "aborting FUSE connection ${dev#*:} of $1"
		echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort" || true
	fi
}

e2e_fuse_abort_all() {
	local m
	for m in "${E2E_MOUNTS[@]+"${E2E_MOUNTS[@]}"}"; do e2e_fuse_abort "$m"; done
}

# TERM, then KILL; a process stuck in a FUSE request only dies once the
# connection is aborted.
e2e_kill_bounded() { # PID WHAT
	local pid=$1
	e2e_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	e2e_wait_pid "$pid" 5 && return 0
	e2e_log "$2 (pid $pid) ignored SIGTERM for 5 s; killing it"
	e2e_fuse_abort_all
	kill -KILL "$pid" 2>/dev/null || true
	e2e_wait_pid "$pid" 5 && return 0
	e2e_log "$2 (pid $pid) survives SIGKILL (state: $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null))"
	return 1
}

# ---- the daemon ------------------------------------------------------------

# shellcheck disable=SC2120 # arguments are optional
# Start usvhostd on the FUSE front at $E2E_RUN_DIR/mnt (created by the daemon)
# and wait until MNT/vhost-net answers. Extra arguments go to the daemon.
e2e_start_daemon() {
	local deadline
	[ -x "$USVHOSTD" ] || e2e_die "daemon binary $USVHOSTD missing (build the project first)"
	E2E_MNT=$E2E_RUN_DIR/mnt
	E2E_MOUNTS+=("$E2E_MNT")
	"$USVHOSTD" --transport=fuse --mount="$E2E_MNT" --foreground --log-level=debug "$@" \
		</dev/null >"$E2E_RUN_DIR/daemon.log" 2>&1 &
	E2E_DAEMON_PID=$!
	deadline=$((SECONDS + 10))
	until e2e_is_mounted "$E2E_MNT"; do
		if ! e2e_alive "$E2E_DAEMON_PID"; then
			e2e_wait_pid "$E2E_DAEMON_PID" 1 || true
			E2E_DAEMON_PID=""
			e2e_show_file "$E2E_RUN_DIR/daemon.log" 40
			e2e_die "usvhostd exited (status $E2E_WAIT_RC) before mounting $E2E_MNT"
		fi
		[ "$SECONDS" -lt "$deadline" ] || e2e_die "usvhostd did not mount $E2E_MNT within 10 s"
		sleep 0.05
	done
	# stat goes through the daemon: bound it in case it never answers.
	timeout -k 1 5 stat -- "$E2E_MNT/vhost-net" >/dev/null ||
		e2e_die "$E2E_MNT/vhost-net does not answer stat"
	e2e_log "usvhostd (pid $E2E_DAEMON_PID) serving $E2E_MNT/vhost-net"
}

# SIGTERM the daemon; sets E2E_DAEMON_RC (124 if it had to be killed).
e2e_stop_daemon() {
	local pid=$E2E_DAEMON_PID
	E2E_DAEMON_RC=""
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if e2e_wait_pid "$pid" 10; then
		E2E_DAEMON_RC=$E2E_WAIT_RC
	else
		E2E_DAEMON_RC=124
		e2e_log "usvhostd (pid $pid) did not exit within 10 s of SIGTERM"
		e2e_kill_bounded "$pid" usvhostd || true
	fi
	E2E_DAEMON_PID=""
}

# ---- QEMU ------------------------------------------------------------------

# Boot the guest with unmodified QEMU and wait for it to power off.
#   --initrd=FILE       (required)
#   --tap=NAME          tap to attach (required)
#   --ram=anon|memfd    anonymous private RAM (QEMU's default) or shared memfd
#   --vhost=on|off      on: vhostfd=3 opened on $E2E_MNT/vhost-net
#   --console=FILE|tty  FILE: console to FILE (stdin /dev/null);
#                       tty: console on this terminal, logged to console.log
#   --stdin=tty         let the guest read the terminal (interactive)
#   --timeout=SECS      kill QEMU after SECS (0: no limit; default $E2E_QEMU_TIMEOUT)
#   -- ARGS             more QEMU arguments
# Sets E2E_QEMU_RC (124 on timeout). QEMU's stderr: $E2E_RUN_DIR/qemu.err;
# its traces (vhost_dev_start/stop): $E2E_RUN_DIR/qemu.trace.
e2e_boot_guest() {
	local initrd="" tap="" ram=anon vhost=on console="" stdin=/dev/null
	local timeout=$E2E_QEMU_TIMEOUT netdev chardev
	local -a args extra=()
	while [ $# -gt 0 ]; do
		case $1 in
		--initrd=*) initrd=${1#*=} ;;
		--tap=*) tap=${1#*=} ;;
		--ram=*) ram=${1#*=} ;;
		--vhost=*) vhost=${1#*=} ;;
		--console=*) console=${1#*=} ;;
		--stdin=tty) stdin=/dev/tty ;;
		--timeout=*) timeout=${1#*=} ;;
		--) shift; extra=("$@"); break ;;
		*) e2e_die "e2e_boot_guest: unknown option $1" ;;
		esac
		shift
	done
	if [ -z "$initrd" ] || [ -z "$tap" ]; then
		e2e_die "e2e_boot_guest needs --initrd and --tap"
	fi
	: "${console:=$E2E_RUN_DIR/console.log}"

	netdev="tap,id=n0,ifname=$tap,script=no,downscript=no"
	case $vhost in
	on) netdev="$netdev,vhost=on,vhostfd=3" ;;
	off) netdev="$netdev,vhost=off" ;;
	*) e2e_die "--vhost=on|off" ;;
	esac
	chardev="stdio,id=con0,mux=on"
	[ "$console" != tty ] || chardev="$chardev,logfile=$E2E_RUN_DIR/console.log"
	[ "$stdin" = /dev/null ] || chardev="$chardev,signal=off"
	# shellcheck disable=SC2054 # commas are QEMU's option syntax
	args=(-accel tcg -m "$E2E_MEM" -nodefaults -display none -no-reboot
		-chardev "$chardev" -serial chardev:con0 -mon chardev=con0,mode=readline
		-kernel "$USVHOST_VMLINUZ" -initrd "$initrd"
		-append "console=ttyS0 panic=-1 quiet"
		-netdev "$netdev" -device virtio-net-pci,netdev=n0
		-trace vhost_dev_start -trace vhost_dev_stop -D "$E2E_RUN_DIR/qemu.trace")
	case $ram in
	anon) ;;
	memfd) args+=(-object "memory-backend-memfd,id=mem,size=$E2E_MEM,share=on"
		-machine memory-backend=mem) ;;
	*) e2e_die "--ram=anon|memfd" ;;
	esac
	args+=("${extra[@]+"${extra[@]}"}")
	printf '%q ' "$QEMU" "${args[@]}" >"$E2E_RUN_DIR/qemu.cmd"
	[ "$vhost" = off ] || echo "3<>$E2E_MNT/vhost-net" >>"$E2E_RUN_DIR/qemu.cmd"

	# Open the vhost device in the child that execs QEMU: the daemon sees the
	# open from QEMU's own pid. The open itself goes through the daemon, so
	# it is covered by the bounded wait below.
	(
		exec <"$stdin" 2>"$E2E_RUN_DIR/qemu.err"
		[ "$console" = tty ] || exec >"$console"
		if [ "$vhost" = on ]; then
			exec 3<>"$E2E_MNT/vhost-net" || exit 125
		fi
		exec "$QEMU" "${args[@]}"
	) &
	E2E_QEMU_PID=$!
	if [ "$timeout" = 0 ]; then
		E2E_QEMU_RC=0
		wait "$E2E_QEMU_PID" || E2E_QEMU_RC=$?
	elif e2e_wait_pid "$E2E_QEMU_PID" "$timeout"; then
		E2E_QEMU_RC=$E2E_WAIT_RC
	else
		e2e_log "QEMU did not finish within $timeout s; killing it"
		e2e_kill_bounded "$E2E_QEMU_PID" qemu || true
		E2E_QEMU_RC=124
	fi
	E2E_QEMU_PID=""
	# QEMU puts a terminal on its stdin in raw mode; undo that if it was killed.
	[ "$stdin" = /dev/null ] || stty sane 2>/dev/null </dev/tty || true
	return 0
}

# ---- checks ----------------------------------------------------------------

e2e_show_file() { # FILE [LINES]
	[ -e "$1" ] || return 0
	echo "---- $1 (last ${2:-60} lines) ----"
	tail -n "${2:-60}" "$1" | tr -d '\r'
	echo "---- end of $1 ----"
}

e2e_show_run_logs() {
	local f
	for f in qemu.cmd console.log qemu.err qemu.trace daemon.log; do
		e2e_show_file "$E2E_RUN_DIR/$f" 80
	done
	E2E_LOGS_SHOWN=1
}

# The guest printed LINE (a regex) on its console, and its script exited 0.
e2e_check_console() { # REGEX
	local con=$E2E_RUN_DIR/console.log
	if grep -Eq -- "$1" "$con"; then
		e2e_pass "guest console shows '$1'"
	else
		e2e_fail "guest console lacks '$1'"
	fi
	if grep -q '^USVHOST_GUEST_EXIT=0' "$con"; then
		e2e_pass "guest script exited 0"
	else
		e2e_fail "guest script did not exit 0 ($(grep -ao 'USVHOST_GUEST_EXIT=[0-9]*' "$con" || echo 'no exit line'))"
	fi
}

# QEMU exited 0 and its stderr has no vhost warning (a failed start makes it
# "fall back on userspace virtio", which hides a broken daemon from the guest).
e2e_check_qemu() {
	local err=$E2E_RUN_DIR/qemu.err
	if [ "$E2E_QEMU_RC" = 0 ]; then
		e2e_pass "QEMU exited 0"
	else
		e2e_fail "QEMU exit status $E2E_QEMU_RC"
	fi
	if grep -Eiq 'vhost|falling back|userspace virtio' "$err"; then
		e2e_fail "QEMU complained about vhost: $(grep -Ei 'vhost|falling back|userspace virtio' "$err" | head -n 3 | tr '\n' ' ')"
	else
		e2e_pass "no vhost warning on QEMU's stderr"
	fi
}

# QEMU's own trace: vhost was started on the device (and stopped at power-off).
e2e_check_vhost_started() {
	local tr=$E2E_RUN_DIR/qemu.trace
	if grep -q '^vhost_dev_start' "$tr" 2>/dev/null; then
		e2e_pass "QEMU started vhost (trace vhost_dev_start)"
	else
		e2e_fail "QEMU never started vhost (no vhost_dev_start in $tr)"
	fi
}

# The daemon answered ioctl NAME with 0, COUNT times at least (REGEX: must
# also be on the line before the result, e.g. 'index=1\b').
e2e_check_ioctl() { # NAME [COUNT] [ARGS-REGEX]
	local name=$1 want=${2:-1} re=${3:-} n
	n=$(grep -E "(^|[^A-Z_])(VHOST_)?${name}( |:|$)" "$E2E_RUN_DIR/daemon.log" |
		grep -cE -- "${re:+$re.*}-> 0\b" || true)
	if [ "$n" -ge "$want" ]; then
		e2e_pass "daemon answered $name${re:+ ($re)} with 0 (${n}x)"
	else
		e2e_fail "daemon log: $name${re:+ ($re)} answered 0 only ${n}x, want >= $want"
	fi
}

# The whole sequence unmodified QEMU 7.2 sends for one queue pair
# (docs/vhost-net-abi.md "What QEMU 7.2 sends"): init, start at DRIVER_OK, and
# stop at power-off; each call answered 0, none answered an error.
e2e_check_qemu72_sequence() {
	local log=$E2E_RUN_DIR/daemon.log name idx prev=0 line order="" missing=""
	for name in SET_OWNER GET_FEATURES SET_FEATURES GET_BACKEND_FEATURES \
		SET_BACKEND_FEATURES SET_MEM_TABLE; do
		e2e_check_ioctl "$name"
	done
	for idx in 0 1; do
		# init (CALL, ERR) and start (CALL again, NUM .. KICK)
		e2e_check_ioctl SET_VRING_CALL 2 "index=$idx\b"
		for name in SET_VRING_ERR SET_VRING_NUM SET_VRING_BASE SET_VRING_ADDR \
			SET_VRING_KICK; do
			e2e_check_ioctl "$name" 1 "index=$idx\b"
		done
		e2e_check_ioctl NET_SET_BACKEND 1 "index=$idx\b.*fd[= ]?[0-9]"
		# stop: detach the tap, then read the ring position back
		e2e_check_ioctl NET_SET_BACKEND 1 "index=$idx\b.*fd[= ]?-1\b"
		e2e_check_ioctl GET_VRING_BASE 1 "index=$idx\b"
	done
	# Start order: owner, features, memory, rings, then the backend.
	for name in SET_OWNER GET_FEATURES SET_FEATURES SET_MEM_TABLE SET_VRING_NUM \
		SET_VRING_KICK NET_SET_BACKEND GET_VRING_BASE; do
		line=$(grep -nE "(^|[^A-Z_])(VHOST_)?${name}( |:|$)" "$log" | head -n1 | cut -d: -f1)
		if [ -z "$line" ]; then
			missing="$missing $name"
		elif [ "$line" -lt "$prev" ]; then
			order="$order $name"
		fi
		prev=${line:-$prev}
	done
	if [ -n "$order" ]; then
		e2e_fail "ioctls out of QEMU's order (first $order earlier than expected)"
	elif [ -z "$missing" ]; then
		e2e_pass "ioctls arrived in QEMU's order"
	fi
	if grep -Eq -- '-> -E[A-Z]+' "$log"; then
		e2e_fail "daemon answered errors: $(grep -E -- '-> -E[A-Z]+' "$log" | head -n 5 | tr '\n' ';')"
	else
		e2e_pass "no ioctl answered with an error"
	fi
}

# Every guest RAM region the daemon mapped used STRATEGY (mmap or procmem).
e2e_check_mem_strategy() { # STRATEGY
	local log=$E2E_RUN_DIR/daemon.log total other
	total=$(grep -cE 'region [0-9]+:' "$log" || true)
	other=$(grep -E 'region [0-9]+:' "$log" | grep -vc "strategy=$1\b" || true)
	if [ "$total" -gt 0 ] && [ "$other" = 0 ]; then
		e2e_pass "all $total memory region lines use strategy=$1"
	else
		e2e_fail "memory strategy: $total region lines, $other not strategy=$1: $(grep -E 'region [0-9]+:' "$log" | head -n 3 | tr '\n' ';')"
	fi
}

# SIGTERM made the daemon exit 0 and take its mount with it.
e2e_check_daemon_stop() {
	e2e_stop_daemon
	if [ "$E2E_DAEMON_RC" = 0 ]; then
		e2e_pass "usvhostd exited 0 on SIGTERM"
	else
		e2e_fail "usvhostd exit status on SIGTERM: $E2E_DAEMON_RC"
	fi
	if e2e_is_mounted "$E2E_MNT"; then
		e2e_fail "$E2E_MNT still mounted after usvhostd exited"
	else
		e2e_pass "mount $E2E_MNT gone"
	fi
}

# End a run: show its logs if one of its checks failed.
e2e_run_end() {
	if [ "$E2E_FAILS" -gt "$E2E_RUN_FAILS0" ] && [ "$E2E_LOGS_SHOWN" = 0 ]; then
		e2e_show_run_logs
	fi
}

# Exit with the verdict of all checks.
e2e_finish() {
	E2E_FINISHED=1
	if [ "$E2E_FAILS" -gt 0 ]; then
		e2e_log "$E2E_FAILS check(s) failed"
		exit 1
	fi
	e2e_log "PASS"
	exit 0
}

# ---- cleanup ---------------------------------------------------------------

e2e_cleanup() {
	local rc=$? m t
	set +e
	trap - EXIT INT TERM HUP
	[ -z "$E2E_QEMU_PID" ] || e2e_kill_bounded "$E2E_QEMU_PID" qemu
	[ -z "$E2E_DAEMON_PID" ] || e2e_kill_bounded "$E2E_DAEMON_PID" usvhostd
	for m in "${E2E_MOUNTS[@]+"${E2E_MOUNTS[@]}"}"; do
		if e2e_is_mounted "$m"; then
			e2e_fuse_abort "$m"
			umount -f -l "$m" 2>/dev/null || e2e_log "cannot unmount $m"
		fi
	done
	for t in "${E2E_TAPS[@]+"${E2E_TAPS[@]}"}"; do
		ip link del "$t" 2>/dev/null
	done
	# Died or interrupted mid-run: show what the run had logged so far.
	if [ "$E2E_FINISHED" = 0 ] && [ "$rc" != 0 ] && [ "$rc" != 77 ] &&
		[ -n "$E2E_RUN_DIR" ] && [ "$E2E_LOGS_SHOWN" = 0 ]; then
		e2e_show_run_logs
	fi
	if [ -n "$E2E_DIR" ] && [ -d "$E2E_DIR" ]; then
		if [ -n "${E2E_KEEP_LOGS:-}" ]; then
			# Skip the mount points and the (large) initramfs images.
			mkdir -p "$E2E_KEEP_LOGS" &&
				tar -C "$E2E_DIR" --one-file-system --exclude='./*/mnt' --exclude='*.gz' -cf - . |
				tar -C "$E2E_KEEP_LOGS" -xf - &&
				e2e_log "logs kept in $E2E_KEEP_LOGS"
		fi
		# --one-file-system: never descend into a mount that refused to go.
		rm -rf --one-file-system "$E2E_DIR"
	fi
	exit "$rc"
}
