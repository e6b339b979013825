# shellcheck shell=bash
# Shared helpers for the end-to-end tests and scripts/run-guest.sh: start
# usvhostd on its FUSE front, make a tap, boot unmodified QEMU with vhost=on,
# check what happened, and clean up on every exit path without ever hanging.
#
# Sourced by bash scripts running with `set -eu`. Typical use:
#   . "$top_srcdir/tests/lib/e2e-lib.sh"
#   e2e_require_host               # root, /dev/fuse, /dev/net/tun, qemu (else skip)
#   e2e_guest_kernel               # may download: before leaving the host network
#   e2e_enter_namespaces "$@"      # re-exec in private mount + network namespaces
#   e2e_setup                      # work dir + cleanup trap
#   e2e_mkinitramfs "$E2E_DIR/initrd.gz" guest-script
#   e2e_make_tap usvtap0 10.0.77.1/24
#   e2e_run_begin memfd; e2e_start_daemon; e2e_boot_guest --ram=memfd ...; e2e_stop_daemon
# Traffic tests use the "traffic" section instead (e2e_traffic_begin ...).
#
# Tunables (environment): E2E_QEMU_TIMEOUT (s, default 60), E2E_MEM (512M),
# USVHOSTD (daemon binary), USVHOST_DAEMON_ARGS (words given to every
# usvhostd before the test's own options, e.g. --seccomp=kill), QEMU
# (qemu-system-x86_64), PYTHON (python3, for the multiqueue tap),
# E2E_KEEP_LOGS (copy the logs there), USVHOST_E2E_REQUIRE=1 (a missing
# prerequisite fails, not skips), E2E_VHOST (traffic tests: on, or off for
# QEMU's own virtio-net).

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${E2E_QEMU_TIMEOUT:=60}"
: "${E2E_MEM:=512M}"
: "${QEMU:=qemu-system-x86_64}"
: "${PYTHON:=python3}"
: "${USVHOSTD:=$top_builddir/src/usvhostd}"

# Every TCG guest gets room for a second vCPU (one runs). QEMU before 8.1
# (upstream "tcg: Do not elide memory barriers for !CF_PARALLEL in system
# mode") translates a guest with max_cpus=1 without host memory barriers
# and its locked instructions without host atomics: the guest's smp_mb()
# then does not order its store of avail->idx before its load of
# avail_event, and any vhost backend (the kernel's as well) can miss a
# kick: the guest's TX stalls for ever, now and then. With maxcpus=2 QEMU
# emits both (QEMU 7.2 `-d op`: 0 barriers and 0 atomic helper calls in 68k
# translated blocks of the boot with -smp 1, 9 and 253 with maxcpus=2).
# A test's own "-- -smp N" is merged over this one.
E2E_TCG_SMP="1,maxcpus=2"

E2E_NAME=${E2E_NAME:-$(basename "$0")}
E2E_DIR=""          # scratch dir (logs, mounts, images)
E2E_RUN_DIR=""      # per-run subdir: daemon.log, console.log, qemu.err, qemu.trace
E2E_MNT=""          # current FUSE mount (holds vhost-net)
E2E_DAEMON_PID=""
E2E_QEMU_PID=""
E2E_QEMU_RC=""
E2E_BG_QEMU_PIDS=() # QEMUs started with e2e_boot_guest --background
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
		--add="$top_srcdir/tests/lib/guest-lib.sh:/usvhost/guest-lib.sh" "$@" ||
		e2e_die "scripts/mkinitramfs.sh failed"
}

e2e_make_tap() { # NAME [ADDR/PREFIX] [ip tuntap flags, e.g. multi_queue]
	ip tuntap add dev "$1" mode tap "${@:3}" || e2e_die "ip tuntap add dev $1 ${*:3} failed"
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
	# shellcheck disable=SC2086 # a word list
	"$USVHOSTD" --transport=fuse --mount="$E2E_MNT" --foreground --log-level=debug \
		${USVHOST_DAEMON_ARGS:-} "$@" </dev/null >"$E2E_RUN_DIR/daemon.log" 2>&1 &
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
	# A daemon that stopped before we asked (a signal from elsewhere, its
	# FUSE connection aborted) is a failure of the run, not a clean stop.
	if ! e2e_alive "$pid"; then
		e2e_wait_pid "$pid" 1 || true
		E2E_DAEMON_RC="gone before SIGTERM (status $E2E_WAIT_RC)"
		E2E_DAEMON_PID=""
		return 0
	fi
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
#   --device-opts=OPTS  more virtio-net-pci properties (e.g. mrg_rxbuf=off)
#   --append=WORDS      more guest kernel command line (e.g. intel_iommu=on)
#   --queues=N          N > 1: multiqueue; the tap (made with
#                       e2e_make_tap NAME ADDR multi_queue) is opened here, one
#                       fd per queue, and given as fds=10:11..., with one open of
#                       $E2E_MNT/vhost-net per queue as vhostfds=20:21...;
#                       mq=on,vectors=2N+2. Give the guest CPUs: -- -smp N
#   --console=FILE|tty  FILE: console to FILE (stdin /dev/null);
#                       tty: console on this terminal, logged to console.log
#   --stdin=tty         let the guest read the terminal (interactive)
#   --timeout=SECS      kill QEMU after SECS (0: no limit; default $E2E_QEMU_TIMEOUT)
#   --tag=T             two QEMUs in one run: files console-T.log, qemu-T.err,
#                       qemu-T.trace and qemu-T.cmd instead of the plain names
#   --background        start QEMU and return at once: E2E_BG_PID is its pid
#                       (waited for by the caller, killed by the cleanup)
#   -- ARGS             more QEMU arguments
# Sets E2E_QEMU_RC (124 on timeout). QEMU's stderr: $E2E_RUN_DIR/qemu.err;
# its traces (vhost_dev_start/stop): $E2E_RUN_DIR/qemu.trace.
e2e_boot_guest() {
	local initrd="" tap="" ram=anon vhost=on console="" stdin=/dev/null
	local timeout=$E2E_QEMU_TIMEOUT netdev chardev device queues=1 devopts="" append=""
	local tag="" bg=0 f_con f_err f_trace f_cmd
	local -a args extra=() launcher=()
	while [ $# -gt 0 ]; do
		case $1 in
		--initrd=*) initrd=${1#*=} ;;
		--tap=*) tap=${1#*=} ;;
		--ram=*) ram=${1#*=} ;;
		--vhost=*) vhost=${1#*=} ;;
		--device-opts=*) devopts=${1#*=} ;;
		--append=*) append=${1#*=} ;;
		--queues=*) queues=${1#*=} ;;
		--console=*) console=${1#*=} ;;
		--stdin=tty) stdin=/dev/tty ;;
		--timeout=*) timeout=${1#*=} ;;
		--tag=*) tag=-${1#*=} ;;
		--background) bg=1 ;;
		--) shift; extra=("$@"); break ;;
		*) e2e_die "e2e_boot_guest: unknown option $1" ;;
		esac
		shift
	done
	if [ -z "$initrd" ] || [ -z "$tap" ]; then
		e2e_die "e2e_boot_guest needs --initrd and --tap"
	fi
	f_con=$E2E_RUN_DIR/console$tag.log f_err=$E2E_RUN_DIR/qemu$tag.err
	f_trace=$E2E_RUN_DIR/qemu$tag.trace f_cmd=$E2E_RUN_DIR/qemu$tag.cmd
	: "${console:=$f_con}"

	netdev="tap,id=n0,ifname=$tap,script=no,downscript=no"
	device=virtio-net-pci,netdev=n0
	case $vhost in
	on) netdev="$netdev,vhost=on,vhostfd=3" ;;
	off) netdev="$netdev,vhost=off" ;;
	*) e2e_die "--vhost=on|off" ;;
	esac
	if [ "$queues" -gt 1 ]; then
		# QEMU 7.2 takes vhostfds= only with fds= (not with ifname=).
		netdev="tap,id=n0,fds=$(seq -s: 10 $((9 + queues))),vhost=$vhost"
		[ "$vhost" = off ] || netdev="$netdev,vhostfds=$(seq -s: 20 $((19 + queues)))"
		device="$device,mq=on,vectors=$((2 * queues + 2))"
		# This helper opens the tap queues (fds 10...) and the vhost devices
		# (fds 20...), then execs QEMU: same pid, so QEMU is the opener.
		launcher=("$PYTHON" "$top_srcdir/tests/lib/tap-queues.py" --tap="$tap"
			--queues="$queues" --tap-fd=10)
		[ "$vhost" = off ] || launcher+=(--vhost="$E2E_MNT/vhost-net" --vhost-fd=20)
		launcher+=(--)
	fi
	device="$device${devopts:+,$devopts}"
	chardev="stdio,id=con0,mux=on"
	[ "$console" != tty ] || chardev="$chardev,logfile=$f_con"
	[ "$stdin" = /dev/null ] || chardev="$chardev,signal=off"
	# shellcheck disable=SC2054 # commas are QEMU's option syntax
	args=(-accel tcg -smp "$E2E_TCG_SMP" -m "$E2E_MEM" -nodefaults -display none -no-reboot
		-chardev "$chardev" -serial chardev:con0 -mon chardev=con0,mode=readline
		-kernel "$USVHOST_VMLINUZ" -initrd "$initrd"
		-append "console=ttyS0 panic=-1 quiet${append:+ $append}"
		-netdev "$netdev" -device "$device"
		-trace vhost_dev_start -trace vhost_dev_stop -D "$f_trace")
	case $ram in
	anon) ;;
	memfd) args+=(-object "memory-backend-memfd,id=mem,size=$E2E_MEM,share=on"
		-machine memory-backend=mem) ;;
	*) e2e_die "--ram=anon|memfd" ;;
	esac
	args+=("${extra[@]+"${extra[@]}"}")
	printf '%q ' "${launcher[@]+"${launcher[@]}"}" "$QEMU" "${args[@]}" >"$f_cmd"
	if [ "$vhost" = on ] && [ "$queues" = 1 ]; then
		echo "3<>$E2E_MNT/vhost-net" >>"$f_cmd"
	fi

	# Open the vhost device in the child that execs QEMU: the daemon sees the
	# open from QEMU's own pid. The open itself goes through the daemon, so
	# it is covered by the bounded wait below.
	(
		exec <"$stdin" 2>"$f_err"
		[ "$console" = tty ] || exec >"$console"
		if [ "$vhost" = on ] && [ "$queues" = 1 ]; then
			exec 3<>"$E2E_MNT/vhost-net" || exit 125
		fi
		exec "${launcher[@]+"${launcher[@]}"}" "$QEMU" "${args[@]}"
	) &
	if [ "$bg" = 1 ]; then
		E2E_BG_PID=$!
		E2E_BG_QEMU_PIDS+=("$E2E_BG_PID")
		return 0
	fi
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
	# qemu-T.* and console-T.log: the QEMUs of a run started with --tag=T.
	for f in "$E2E_RUN_DIR"/{qemu{,-*}.cmd,console{,-*}.log,qemu{,-*}.err,qemu{,-*}.trace,daemon.log}; do
		e2e_show_file "$f" 80
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
	if grep -q 'stopping:' "$E2E_RUN_DIR/daemon.log" 2>/dev/null &&
		[ "$E2E_DAEMON_RC" != 0 ]; then
		e2e_fail "usvhostd stopped on its own during the run: $(grep -m1 'stopping:' "$E2E_RUN_DIR/daemon.log")"
	fi
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
	# A system call the allow-list refused (logged by --seccomp=enforce) is a
	# path the list misses.
	if grep -q 'seccomp: refused system call' "$E2E_RUN_DIR/daemon.log" 2>/dev/null; then
		e2e_fail "the daemon made a system call its seccomp allow-list refuses: $(grep -m1 'seccomp: refused' "$E2E_RUN_DIR/daemon.log")"
	fi
}

# The device IOTLB carried a vIOMMU guest's traffic: the daemon's debug log
# LOG shows misses asked for and UPDATEs taken.
e2e_check_iotlb_used() { # LOG
	local updates misses
	updates=$(grep -c 'IOTLB UPDATE' "$1" || true)
	misses=$(grep -c 'IOTLB miss' "$1" || true)
	if [ "$updates" -gt 0 ] && [ "$misses" -gt 0 ]; then
		e2e_pass "IOTLB in use: $misses misses asked for, $updates UPDATEs taken"
	else
		e2e_fail "IOTLB not in use: $misses misses asked for, $updates UPDATEs taken"
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

# ---- traffic: TCP flows and pings between the guest and the tap ------------
#
# A flow is one TCP connection on its own port between the guest and the host
# side of the tap, served on the host by busybox nc in the test's network
# namespace and driven in the guest by guest-lib.sh (guest_send, guest_recv),
# which prints "USVHOST_XFER port=P dir=g2h|h2g bytes=N sha256=HEX csecs=T".
#   e2e_traffic_begin NAME          # run dir, usvhostd (unless E2E_VHOST=off)
#   e2e_flow_g2h 5001; e2e_flow_h2g 5002 64; e2e_ping_guest
#   e2e_traffic_boot --initrd=... --tap=... [e2e_boot_guest options]
#                                   # (bounded by E2E_QEMU_TIMEOUT, as the nc)
#   e2e_traffic_check 1             # console, QEMU, flows, pings, counters
# E2E_VHOST=off runs the same guest with QEMU's own virtio-net (no daemon):
# it checks the test's plumbing and says that it proves nothing about usvhostd.

: "${E2E_VHOST:=on}"
# shellcheck disable=SC2034 # for the tests
E2E_HOST_IP=10.0.77.1
E2E_GUEST_IP=10.0.77.2
E2E_JOBS=()          # host-side nc of the current run
E2E_PING_PID=""      # host-side ping loop of the current run
E2E_FLOWS=()         # "DIR:PORT" of the current run
E2E_G2H_BYTES=0      # bytes the run's flows moved, set by e2e_check_flows
E2E_H2G_BYTES=0
E2E_STATS=0          # the daemon was started with --stats=$E2E_RUN_DIR/stats

# A file of MIB MiB of random data, made once per NAME and size; prints its path.
e2e_random_file() { # NAME MIB
	local f=$E2E_DIR/random-$1-${2}M
	[ -s "$f" ] || head -c "$(($2 << 20))" /dev/urandom >"$f" || e2e_die "cannot write $f"
	echo "$f"
}

e2e_traffic_begin() { # RUN-NAME [usvhostd options]
	local name=$1
	shift
	e2e_run_begin "$name"
	E2E_JOBS=() E2E_FLOWS=() E2E_PING_PID="" E2E_G2H_BYTES=0 E2E_H2G_BYTES=0 E2E_STATS=0
	# stdin for host-side nc: a FIFO opened read-write never reaches EOF, so
	# nc never half-closes the connection (busybox nc exits when its peer
	# does, even with data left to send).
	[ -p "$E2E_DIR/hold" ] || mkfifo "$E2E_DIR/hold"
	[ "$E2E_VHOST" = off ] && return 0
	# Per-ring counters in $E2E_RUN_DIR/stats if the daemon has --stats;
	# otherwise only its per-ring log lines have them.
	if "$USVHOSTD" --help 2>/dev/null | grep -q -- '--stats'; then
		E2E_STATS=1
		e2e_start_daemon --stats="$E2E_RUN_DIR/stats" "$@"
	else
		e2e_log "note: $USVHOSTD has no --stats option; counters only from its log"
		e2e_start_daemon "$@"
	fi
}

# The host stores what the guest sends to PORT.
e2e_flow_g2h() { # PORT
	timeout -k 2 $((E2E_QEMU_TIMEOUT + 10)) busybox nc -l -p "$1" 0<>"$E2E_DIR/hold" \
		>"$E2E_RUN_DIR/g2h-$1.data" 2>"$E2E_RUN_DIR/g2h-$1.err" &
	E2E_JOBS+=($!)
	E2E_FLOWS+=("g2h:$1")
}

# The host sends MIB MiB of random data to the guest that connects to PORT.
e2e_flow_h2g() { # PORT MIB
	local data
	data=$(e2e_random_file "$1" "$2")
	ln -sf "$data" "$E2E_RUN_DIR/h2g-$1.data"
	timeout -k 2 $((E2E_QEMU_TIMEOUT + 10)) busybox nc -l -p "$1" <"$data" \
		>/dev/null 2>"$E2E_RUN_DIR/h2g-$1.err" &
	E2E_JOBS+=($!)
	E2E_FLOWS+=("h2g:$1")
}

# Ping the guest every 0.2 s until it powers off (guest_wait_pinged waits
# for these); every reply is a line in ping-guest.out.
e2e_ping_guest() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout -k 2 $((E2E_QEMU_TIMEOUT + 10)) bash -c '
		while :; do busybox ping -c 1 -W 1 "$1" | grep "bytes from"; sleep 0.2; done' \
		_ "$E2E_GUEST_IP" >"$E2E_RUN_DIR/ping-guest.out" 2>&1 &
	E2E_PING_PID=$!
}

# Boot the guest for a traffic run: vhost per E2E_VHOST, QEMU traces the
# queue kicks it handles itself. Then give the host-side jobs 5 s to finish.
e2e_traffic_boot() { # e2e_boot_guest options [-- QEMU args]
	local -a opts=() extra=()
	while [ $# -gt 0 ]; do
		[ "$1" = -- ] && { shift; extra=("$@"); break; }
		opts+=("$1")
		shift
	done
	local t0=$SECONDS
	e2e_boot_guest --vhost="$E2E_VHOST" "${opts[@]}" -- -trace virtio_queue_notify \
		"${extra[@]+"${extra[@]}"}"
	e2e_traffic_end "$t0"
}

# After a traffic guest exited (started at T0): its time, then the ping
# loop stopped and the host-side jobs given 5 s to finish.
e2e_traffic_end() { # T0
	local pid
	E2E_GUEST_SECS=$((SECONDS - $1))
	e2e_log "guest ran $E2E_GUEST_SECS s (QEMU status $E2E_QEMU_RC)"
	[ -z "$E2E_PING_PID" ] || e2e_kill_bounded "$E2E_PING_PID" "host ping loop" || true
	E2E_PING_PID=""
	for pid in "${E2E_JOBS[@]+"${E2E_JOBS[@]}"}"; do
		e2e_wait_pid "$pid" 5 || e2e_kill_bounded "$pid" "host-side job" || true
	done
	E2E_JOBS=()
}

# bytes and sha256 of a file
e2e_size_sha() { echo "$(stat -Lc %s "$1") $(sha256sum <"$1" | cut -d' ' -f1)"; }

# Each flow moved all its bytes, and both ends saw the same sha256. Sets
# E2E_G2H_BYTES / E2E_H2G_BYTES to what the guest reported moving, and
# writes "DIR PORT BYTES CSECS ok|bad|missing" per flow to $E2E_RUN_DIR/flows.
e2e_check_flows() {
	local f dir port line gbytes gsha csecs hbytes hsha rate
	: >"$E2E_RUN_DIR/flows"
	for f in "${E2E_FLOWS[@]}"; do
		dir=${f%%:*} port=${f#*:}
		line=$(grep -ao "USVHOST_XFER port=$port dir=$dir .*" "$E2E_RUN_DIR/console.log" | tr -d '\r' | tail -n1)
		if [ -z "$line" ]; then
			echo "$dir $port 0 0 missing" >>"$E2E_RUN_DIR/flows"
			e2e_fail "flow $dir:$port: the guest did not report it ($(grep -a "port $port" "$E2E_RUN_DIR/console.log" | tr -d '\r' | head -n 2))"
			continue
		fi
		gbytes=$(sed -E 's/.* bytes=([0-9]+).*/\1/' <<<"$line")
		gsha=$(sed -E 's/.* sha256=([0-9a-f]+).*/\1/' <<<"$line")
		csecs=$(sed -E 's/.* csecs=([0-9]+).*/\1/' <<<"$line")
		read -r hbytes hsha < <(e2e_size_sha "$E2E_RUN_DIR/$dir-$port.data")
		rate=$(awk -v b="$gbytes" -v c="$csecs" 'BEGIN { printf "%.1f", (c > 0 ? b / c * 100 / 1e6 : 0) }')
		if [ "$gbytes" -gt 0 ] && [ "$gbytes" = "$hbytes" ] && [ "$gsha" = "$hsha" ]; then
			echo "$dir $port $gbytes $csecs ok" >>"$E2E_RUN_DIR/flows"
			e2e_pass "flow $dir:$port: $gbytes bytes, sha256 ${gsha:0:16}... on both ends, $((csecs / 100)).$(printf %02d $((csecs % 100))) s, $rate MB/s"
		else
			echo "$dir $port $gbytes $csecs bad" >>"$E2E_RUN_DIR/flows"
			e2e_fail "flow $dir:$port: guest bytes=$gbytes sha256=$gsha, host bytes=$hbytes sha256=$hsha"
			e2e_show_file "$E2E_RUN_DIR/$dir-$port.err" 5
		fi
		case $dir in
		g2h) E2E_G2H_BYTES=$((E2E_G2H_BYTES + gbytes)) ;;
		h2g) E2E_H2G_BYTES=$((E2E_H2G_BYTES + gbytes)) ;;
		esac
	done
}

# Guest to host (guest_ping_host) and host to guest (e2e_ping_guest, which
# the guest waited for: guest_wait_pinged).
e2e_check_pings() {
	local con=$E2E_RUN_DIR/console.log out=$E2E_RUN_DIR/ping-guest.out n
	if grep -aq '^USVHOST_PING_HOST ok' "$con"; then
		e2e_pass "guest pinged the host ($(grep -ao '^USVHOST_PING_HOST ok.*' "$con" | tr -d '\r' | head -n1))"
	else
		e2e_fail "guest could not ping the host: $(grep -a 'ping' "$con" | tr -d '\r' | head -n 3 | tr '\n' ' ')"
	fi
	n=$(grep -c 'bytes from' "$out" 2>/dev/null || true)
	if [ "$n" -ge 3 ] && grep -aq '^USVHOST_PINGED' "$con"; then
		e2e_pass "host pinged the guest ($n replies; $(grep -ao '^USVHOST_PINGED.*' "$con" | tr -d '\r' | tail -n1))"
	else
		e2e_fail "host pinged the guest: $n replies, want >= 3; guest: $(grep -ao 'USVHOST_PINGED.*\|guest: .*echo.*' "$con" | tr -d '\r' | head -n1)"
	fi
}

# Per-ring counters "DEV VQ BYTES PACKETS", one line per ring. Two sources:
# the daemon's --stats file (dev=D vq=Q dir=... packets=P bytes=B ...; the
# final one, written at exit) and its log, which has a line per ring each
# time a ring is detached (dev D: vq Q DIR: packets=P bytes=B ...), summed.
# Per ring, the larger of the two.
e2e_ring_counters() {
	local files=("$E2E_RUN_DIR/daemon.log")
	[ ! -f "$E2E_RUN_DIR/stats" ] || files+=("$E2E_RUN_DIR/stats")
	awk '
	function num(re, skip) { return match($0, re) ? substr($0, RSTART + skip, RLENGTH - skip) + 0 : 0 }
	function field(name,   s) {
		match($0, "(^|[^a-z])" name "[= ][0-9]+"); s = substr($0, RSTART, RLENGTH)
		sub(".*" name "[= ]", "", s); return s }
	/(^|[^a-z])dev[= ][0-9]+/ && /(^|[^a-z])vq[= ][0-9]+/ && /bytes=[0-9]+/ {
		k = field("dev") " " field("vq")
		if (FILENAME ~ /stats$/) { SB[k] = num("bytes=[0-9]+", 6); SP[k] = num("packets=[0-9]+", 8) }
		else { LB[k] += num("bytes=[0-9]+", 6); LP[k] += num("packets=[0-9]+", 8) }
		seen[k] = 1
	}
	END { for (k in seen) print k, (SB[k] > LB[k] ? SB[k] : LB[k]), (SP[k] > LP[k] ? SP[k] : LP[k]) }' \
		"${files[@]}" | sort -n -k1,1 -k2,2
}

# usvhostd's counters account for the traffic: over all NDEV devices (one per
# queue pair), tx rings (vq 1) carried >= the guest-to-host bytes and rx
# rings (vq 0) >= the host-to-guest bytes; each ring carried >= MIN bytes.
# With --stats, the stats file names every ring with its direction.
e2e_check_counters() { # NDEV [MIN-PER-RING]
	local ndev=$1 min=${2:-1} d q b tx=0 rx=0 counters dir missing=""
	counters=$(e2e_ring_counters)
	e2e_log "usvhostd ring counters (dev vq bytes packets): $(tr '\n' ';' <<<"$counters")"
	for ((d = 0; d < ndev; d++)); do
		for q in 0 1; do
			dir=$([ "$q" = 1 ] && echo tx || echo rx)
			grep -Eq "(^|[^a-z])dev=$d vq=$q dir=$dir " "$E2E_RUN_DIR/stats" 2>/dev/null ||
				missing="$missing dev=$d/vq=$q/dir=$dir"
			b=$(awk -v k="$d $q" '$1 " " $2 == k { print $3 }' <<<"$counters")
			if [ -z "$b" ]; then
				e2e_fail "usvhostd reported no counters for dev $d vq $q"
				continue
			fi
			[ "$q" = 1 ] && tx=$((tx + b)) || rx=$((rx + b))
			if [ "$b" -ge "$min" ]; then
				e2e_pass "usvhostd dev $d vq $q ($dir) carried $b bytes (>= $min)"
			else
				e2e_fail "usvhostd dev $d vq $q ($dir) carried $b bytes, want >= $min"
			fi
		done
	done
	if [ "$tx" -ge "$E2E_G2H_BYTES" ] && [ "$rx" -ge "$E2E_H2G_BYTES" ]; then
		e2e_pass "usvhostd moved the traffic: tx $tx >= $E2E_G2H_BYTES, rx $rx >= $E2E_H2G_BYTES bytes"
	else
		e2e_fail "usvhostd counters short of the traffic: tx $tx (want >= $E2E_G2H_BYTES), rx $rx (want >= $E2E_H2G_BYTES)"
	fi
	# The stats file written at exit lists open devices per ring and folds
	# released ones into "released" totals: either way it must account for
	# the traffic.
	if [ "$E2E_STATS" = 1 ]; then
		local rel_rx rel_tx
		rel_rx=$(sed -n 's/^released vq=0 .* bytes=\([0-9]*\).*/\1/p' "$E2E_RUN_DIR/stats" 2>/dev/null)
		rel_tx=$(sed -n 's/^released vq=1 .* bytes=\([0-9]*\).*/\1/p' "$E2E_RUN_DIR/stats" 2>/dev/null)
		if [ -z "$missing" ]; then
			e2e_pass "usvhostd --stats file lists all $((2 * ndev)) rings"
		elif [ "${rel_tx:-0}" -ge "$E2E_G2H_BYTES" ] && [ "${rel_rx:-0}" -ge "$E2E_H2G_BYTES" ]; then
			e2e_pass "usvhostd --stats file: released devices carried tx $rel_tx, rx $rel_rx bytes"
		else
			e2e_fail "usvhostd --stats file $E2E_RUN_DIR/stats lacks$missing and its released totals (tx ${rel_tx:-none}, rx ${rel_rx:-none}) are short"
		fi
	fi
}

# QEMU handled no kick of a data ring itself (trace virtio_queue_notify
# "n N" with N < 2 * queue pairs): while vhost runs they all go to usvhostd.
# The one exception: right after vhost_dev_stop QEMU drains each ring's kick
# eventfd once (virtio_bus_cleanup_host_notifier), as with the kernel's vhost.
e2e_check_no_qemu_datapath() { # QUEUE-PAIRS [TRACE-FILE]
	local n tr=${2:-$E2E_RUN_DIR/qemu.trace}
	# Counting nothing proves nothing unless the trace is read as written:
	# every vhost run traces vhost_dev_start, at the start of a line.
	if ! grep -q '^vhost_dev_start' "$tr" 2>/dev/null; then
		e2e_fail "QEMU's trace has no line starting with vhost_dev_start: cannot tell which kicks QEMU handled"
		return
	fi
	n=$(awk -v max=$((2 * $1)) '
		/^vhost_dev_start/ { split("", drained); stopped = 0 }
		/^vhost_dev_stop/ { stopped = 1 }
		/^virtio_queue_notify / {
			for (i = 1; i < NF; i++) if ($i == "n") q = $(i + 1) + 0
			if (q >= max) next
			if (stopped && !(q in drained)) { drained[q] = 1; next }
			c++
		}
		END { print c + 0 }' "$tr")
	if [ "$n" = 0 ]; then
		e2e_pass "QEMU handled no data-ring kick itself (trace virtio_queue_notify)"
	else
		e2e_fail "QEMU handled $n data-ring kicks itself (its userspace virtio-net moved packets)"
	fi
}

# Feature BIT (NAME) is off: in what the guest's driver negotiated (the
# sysfs features string guest_show_status prints) and, with vhost, in what
# QEMU acked to usvhostd (SET_FEATURES).
e2e_check_feature_off() { # BIT NAME
	local bits acked
	bits=$(grep -aoE 'virtio[0-9]+: features=[01]+' "$E2E_RUN_DIR/console.log" | tail -n1 | cut -d= -f2)
	if [ -n "$bits" ] && [ "${bits:$1:1}" = 0 ]; then
		e2e_pass "guest driver negotiated without $2 (bit $1)"
	else
		e2e_fail "guest driver features ${bits:-unknown}: $2 (bit $1) not off"
	fi
	[ "$E2E_VHOST" = on ] || return 0
	acked=$(grep -oE 'SET_FEATURES 0x[0-9a-f]+ -> 0' "$E2E_RUN_DIR/daemon.log" | tail -n1 | cut -d' ' -f2)
	if [ -n "$acked" ] && [ $((acked >> $1 & 1)) = 0 ]; then
		e2e_pass "usvhostd was given features $acked: no $2"
	else
		e2e_fail "usvhostd SET_FEATURES ${acked:-missing}: $2 (bit $1) not off"
	fi
}

# Feature BIT (NAME) is on: negotiated by the guest's driver and, with
# vhost, acked by QEMU to usvhostd (SET_FEATURES).
e2e_check_feature_on() { # BIT NAME
	local bits acked
	bits=$(grep -aoE 'virtio[0-9]+: features=[01]+' "$E2E_RUN_DIR/console.log" | tail -n1 | cut -d= -f2)
	if [ -n "$bits" ] && [ "${bits:$1:1}" = 1 ]; then
		e2e_pass "guest driver negotiated $2 (bit $1)"
	else
		e2e_fail "guest driver features ${bits:-unknown}: $2 (bit $1) not on"
	fi
	[ "$E2E_VHOST" = on ] || return 0
	acked=$(grep -oE 'SET_FEATURES 0x[0-9a-f]+ -> 0' "$E2E_RUN_DIR/daemon.log" | tail -n1 | cut -d' ' -f2)
	if [ -n "$acked" ] && [ $((acked >> $1 & 1)) = 1 ]; then
		e2e_pass "usvhostd was given features $acked: $2"
	else
		e2e_fail "usvhostd SET_FEATURES ${acked:-missing}: $2 (bit $1) not on"
	fi
}

# What every traffic run checks; stops the daemon. Then e2e_run_end.
e2e_traffic_check() { # QUEUE-PAIRS [MIN-BYTES-PER-RING]
	e2e_check_console '^USVHOST_TRAFFIC_DONE'
	e2e_check_pings
	e2e_check_flows
	if [ "$E2E_VHOST" = off ]; then
		e2e_log "E2E_VHOST=off: QEMU moved the packets (plumbing check only, nothing about usvhostd)"
		if [ "$E2E_QEMU_RC" = 0 ]; then
			e2e_pass "QEMU exited 0"
		else
			e2e_fail "QEMU exit status $E2E_QEMU_RC"
		fi
	else
		e2e_check_qemu
		e2e_check_vhost_started
		e2e_check_no_qemu_datapath "$1"
		e2e_check_daemon_stop
		e2e_check_counters "$1" "${2:-1}"
	fi
}

# ---- cleanup ---------------------------------------------------------------

e2e_cleanup() {
	local rc=$? m t
	set +e
	trap - EXIT INT TERM HUP
	[ -z "$E2E_QEMU_PID" ] || e2e_kill_bounded "$E2E_QEMU_PID" qemu
	for t in "${E2E_BG_QEMU_PIDS[@]+"${E2E_BG_QEMU_PIDS[@]}"}"; do e2e_kill_bounded "$t" qemu; done
	[ -z "$E2E_DAEMON_PID" ] || e2e_kill_bounded "$E2E_DAEMON_PID" usvhostd
	for t in $E2E_PING_PID "${E2E_JOBS[@]+"${E2E_JOBS[@]}"}"; do e2e_kill_bounded "$t" "host-side job"; done
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
