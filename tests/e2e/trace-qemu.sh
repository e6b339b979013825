#!/usr/bin/env bash
# Tracing, replay, compatibility profiles and fault injection with unmodified
# QEMU (TCG) on usvhostd's FUSE front:
#   boot A   usvhostd --trace: the trace parses, holds the whole start/stop
#            sequence with decoded memory regions and the tap's name, and
#            usvhost-trace show/summary print it;
#   replay   A against a fresh usvhostd: no divergence; against usvhostd
#            --profile linux-4.14: exactly the divergences that kernel
#            implies; against linux-6.1: only GET_FEATURES's output (usvhost
#            also offers the packed ring);
#   boot B   --profile linux-4.14: QEMU runs without backend features and the
#            guest still reaches DRIVER_OK;
#   boot C   --inject SET_MEM_TABLE:E2BIG: QEMU prints what it prints with a
#            kernel that answers so, and the trace marks the answer injected;
#   boot D   other virtio-net options (mrg_rxbuf=off, rx_queue_size=512):
#            usvhost-trace diff A D shows exactly those differences.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${TRACE_TOOL:=$top_builddir/src/usvhost-trace}"

e2e_require_host
[ -x "$TRACE_TOOL" ] || e2e_die "$TRACE_TOOL missing (build the project first)"
e2e_guest_kernel
e2e_enter_namespaces "$@"
e2e_setup

cat >"$E2E_DIR/guest.sh" <<'EOF'
. /usvhost/guest-lib.sh
dev=$(guest_virtio_net_dev) || exit 1
guest_check_driver_ok "$dev" || { guest_show_status "$dev"; exit 1; }
ifc=$(guest_iface_of "$dev") || exit 1
guest_ifup "$ifc" 10.0.77.2/24 || { guest_show_status "$dev" "$ifc"; exit 1; }
echo "USVHOST_E2E_DRIVER_OK ${dev##*/} status=$(cat "$dev/status") features=$(cat "$dev/features")"
EOF
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 10.0.77.1/24

DRIVER_OK='^USVHOST_E2E_DRIVER_OK virtio[0-9]+ status=0x[0-9a-f]*f'

# ---- helpers -------------------------------------------------------------------

# Boot one guest against a daemon started with ARGS (a run named NAME); the
# trace is $E2E_RUN_DIR/trace.json. Extra QEMU arguments after --.
trace_boot() { # NAME [daemon args] [-- qemu args]
	local name=$1 t0
	local -a dargs=() qargs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do dargs+=("$1"); shift; done
	[ $# -eq 0 ] || { shift; qargs=("$@"); }
	e2e_log "=== $name: usvhostd ${dargs[*]-} ${qargs[*]+(QEMU ${qargs[*]})}"
	e2e_run_begin "$name"
	e2e_start_daemon --trace="$E2E_RUN_DIR/trace.json" "${dargs[@]+"${dargs[@]}"}"
	t0=$SECONDS
	e2e_boot_guest --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram=memfd --vhost=on \
		-- "${qargs[@]+"${qargs[@]}"}"
	e2e_log "guest run took $((SECONDS - t0)) s"
	e2e_check_daemon_stop
}

check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then e2e_pass "$what"; else e2e_fail "$what"; fi
}

# The ioctl names of a trace, one per line, in order.
ioctl_names() { # TRACE
	"$TRACE_TOOL" show --no-events "$1" | awk 'NR > 2 { print $4 }'
}

# Every NAME appears, in this order, as a subsequence of the trace's ioctls.
has_sequence() { # TRACE NAME...
	local trace=$1
	shift
	ioctl_names "$trace" | awk -v want="$*" '
		BEGIN { n = split(want, w, " "); i = 1 }
		i <= n && $0 == w[i] { i++ }
		END { if (i <= n) { print "missing from position " i ": " w[i]; exit 1 } }'
}

# Replay TRACE against a fresh daemon started with ARGS; output in OUT.
replay_against() { # NAME TRACE OUT [daemon args]
	local name=$1 trace=$2 out=$3 rc=0
	shift 3
	e2e_run_begin "$name"
	e2e_start_daemon "$@"
	"$TRACE_TOOL" replay "$trace" --device "$E2E_MNT/vhost-net" --json >"$out" 2>&1 || rc=$?
	e2e_stop_daemon
	e2e_log "replay against usvhostd $*: exit $rc, $(grep -c '"divergence"' "$out" || true) divergence(s)"
	REPLAY_RC=$rc
}

# "IOCTL:what" of each divergence, sorted, one line.
divergences() { # OUT
	sed -n 's/.*"type":"divergence".*"ioctl":"\([A-Z_]*\)","what":"\([a-z]*\)".*/\1:\2/p' "$1" |
		sort | tr '\n' ' ' | sed 's/ $//'
}

# ---- A: the trace of a real boot -------------------------------------------------
trace_boot default
A=$E2E_RUN_DIR/trace.json
cp "$A" "$E2E_DIR/trace-A.json"
A=$E2E_DIR/trace-A.json
e2e_check_console "$DRIVER_OK"
e2e_check_qemu
check "the trace parses (usvhost-trace summary)" \
	bash -c '"$1" summary "$2" >"$3"' _ "$TRACE_TOOL" "$A" "$E2E_RUN_DIR/summary.txt"
check "the trace has a header and an end record" \
	grep -q '"type":"end"' "$A"
check "the trace holds QEMU's whole start and stop sequence" \
	has_sequence "$A" SET_OWNER GET_FEATURES SET_VRING_CALL SET_VRING_ERR SET_FEATURES \
	GET_BACKEND_FEATURES SET_BACKEND_FEATURES SET_MEM_TABLE SET_VRING_NUM SET_VRING_BASE \
	SET_VRING_ADDR SET_VRING_KICK NET_SET_BACKEND NET_SET_BACKEND NET_SET_BACKEND \
	GET_VRING_BASE GET_VRING_BASE
check "SET_MEM_TABLE is decoded into regions (gpa, size, uaddr)" \
	grep -Eq '"ioctl":"SET_MEM_TABLE".*"in":\{"nregions":[1-9][0-9]*,"padding":0,"regions":\[\{"gpa":"0x0","size":"0x[0-9a-f]+","uaddr":"0x[0-9a-f]+"' "$A"
check "NET_SET_BACKEND names the tap (usvtap0) and its flags" \
	grep -Eq '"ioctl":"NET_SET_BACKEND".*"file":\{"kind":"tap","ifname":"usvtap0","flags":"0x[0-9a-f]+","flag_names":"TAP\|[A-Z_|]*VNET_HDR"' "$A"
check "the eventfds are classified" \
	grep -q '"ioctl":"SET_VRING_KICK".*"file":{"kind":"eventfd"}' "$A"
check "callers are named (tid, tgid, comm)" \
	grep -Eq '"tid":[0-9]+,"tgid":[0-9]+,"comm":"qemu-system-x86[^"]*","ioctl":"SET_OWNER"' "$A"
check "lifecycle events: open, memory (strategy mmap), attach, detach, release" \
	bash -c "grep -q '\"type\":\"open\"' '$A' && grep -q '\"strategy\":\"mmap\"' '$A' &&
		grep -q '\"type\":\"attach\"' '$A' && grep -q '\"type\":\"detach\"' '$A' &&
		grep -q '\"type\":\"release\"' '$A'"
"$TRACE_TOOL" show "$A" >"$E2E_RUN_DIR/show.txt"
check "usvhost-trace show prints it, aligned, with the regions and the tap" \
	bash -c "grep -Eq '^\+[0-9.]+ +0 +[0-9]+ +SET_MEM_TABLE +\{nregions=[0-9]+, padding=0, regions=\[\{gpa=0x0' '$E2E_RUN_DIR/show.txt' &&
		grep -Eq 'NET_SET_BACKEND +\{index=0, fd=[0-9]+<tap usvtap0 TAP\|[A-Z_|]*VNET_HDR>\} = 0' '$E2E_RUN_DIR/show.txt'"
check "usvhost-trace summary has a row per ioctl with percentiles" \
	grep -Eq '^SET_MEM_TABLE +1 +0 +- +[0-9.]+(us|ms)' "$E2E_RUN_DIR/summary.txt"
if [ "$E2E_FAILS" -gt "$E2E_RUN_FAILS0" ]; then
	e2e_show_file "$E2E_RUN_DIR/show.txt" 80
fi
e2e_run_end

# ---- replays of A ------------------------------------------------------------------
replay_against replay-usvhost "$A" "$E2E_DIR/replay-usvhost.out"
check "replay against usvhostd: no divergence (exit 0)" \
	bash -c "[ $REPLAY_RC = 0 ] && grep -q '\"divergences\":0' '$E2E_DIR/replay-usvhost.out'"
[ "$REPLAY_RC" = 0 ] || e2e_show_file "$E2E_DIR/replay-usvhost.out" 40

replay_against replay-4.14 "$A" "$E2E_DIR/replay-4.14.out" --profile=linux-4.14
got=$(divergences "$E2E_DIR/replay-4.14.out")
want="GET_BACKEND_FEATURES:answer GET_FEATURES:output SET_BACKEND_FEATURES:answer"
check "replay against --profile linux-4.14: exactly '$want' (got '$got')" \
	bash -c "[ $REPLAY_RC = 1 ] && [ '$got' = '$want' ]"
# usvhost offers the packed ring beyond the kernel: 4.14 answers 0x33d008000.
check "linux-4.14 answers the backend-features ioctls ENOTTY and offers 0x33d008000" \
	bash -c "grep -q '\"ioctl\":\"GET_BACKEND_FEATURES\".*\"replayed\":\"-1 ENOTTY\"' '$E2E_DIR/replay-4.14.out' &&
		grep -q '\"ioctl\":\"GET_FEATURES\".*\"replayed\":\"features=0x33d008000\"' '$E2E_DIR/replay-4.14.out'"
[ "$got" = "$want" ] || e2e_show_file "$E2E_DIR/replay-4.14.out" 40

replay_against replay-6.1 "$A" "$E2E_DIR/replay-6.1.out" --profile=linux-6.1
got=$(divergences "$E2E_DIR/replay-6.1.out")
# 6.1 offers ACCESS_PLATFORM as usvhost does, but not the packed ring.
check "replay against --profile linux-6.1: exactly 'GET_FEATURES:output' (got '$got')" \
	bash -c "[ $REPLAY_RC = 1 ] && [ '$got' = 'GET_FEATURES:output' ]"

# ---- B: a 4.14 kernel's answers ----------------------------------------------------
trace_boot linux-4.14 --profile=linux-4.14
B=$E2E_RUN_DIR/trace.json
e2e_check_console "$DRIVER_OK"
e2e_check_qemu
e2e_check_vhost_started
# The unknown path reads a u32 ring index at arg, where QEMU's u64 lies
# uninitialised: ENOBUFS or ENOTTY, as on a 4.14 kernel.
check "linux-4.14: GET_BACKEND_FEATURES fails by the unknown path (ENOTTY or ENOBUFS)" \
	grep -Eq '"ioctl":"GET_BACKEND_FEATURES","cmd":"0x8008af26","path":"unknown".*"errno":"(ENOTTY|ENOBUFS)"' "$B"
check "linux-4.14: QEMU sends no SET_BACKEND_FEATURES" \
	bash -c "! grep -q '\"ioctl\":\"SET_BACKEND_FEATURES\"' '$B'"
check "linux-4.14: the rings start on the tap anyway" \
	grep -q '"type":"attach".*"ifname":"usvtap0"' "$B"
e2e_run_end

# ---- C: an injected SET_MEM_TABLE failure ------------------------------------------
trace_boot inject --inject=SET_MEM_TABLE:E2BIG
C=$E2E_RUN_DIR/trace.json
e2e_check_console "$DRIVER_OK"
check "QEMU reports the failure as with a kernel: 'vhost_set_mem_table failed: Argument list too long (7)'" \
	grep -q 'vhost_set_mem_table failed: Argument list too long (7)' "$E2E_RUN_DIR/qemu.err"
check "QEMU falls back on userspace virtio" \
	grep -q 'unable to start vhost net: 7: falling back on userspace virtio' "$E2E_RUN_DIR/qemu.err"
check "the trace marks the injected answer" \
	grep -q '"ioctl":"SET_MEM_TABLE".*"ret":-1,"errno":"E2BIG","errno_num":7.*"injected":true' "$C"
check "the trace header lists the rule" \
	grep -q '"inject":\["SET_MEM_TABLE:E2BIG:nth=1:count=1"\]' "$C"
check "usvhost-trace show marks it [injected]" \
	bash -c "'$TRACE_TOOL' show '$C' | grep -q 'SET_MEM_TABLE .* = -1 E2BIG (Argument list too long) \[injected\]'"
check "the daemon log says it injected" \
	grep -q 'SET_MEM_TABLE answered E2BIG by --inject' "$E2E_RUN_DIR/daemon.log"
e2e_show_file "$E2E_RUN_DIR/qemu.err" 10
e2e_run_end

# ---- D: other virtio options, and diff ---------------------------------------------
trace_boot options -- -global virtio-net-pci.mrg_rxbuf=off -global virtio-net-pci.rx_queue_size=512
D=$E2E_RUN_DIR/trace.json
e2e_check_console "$DRIVER_OK"
e2e_check_qemu
rc=0
"$TRACE_TOOL" diff "$A" "$D" >"$E2E_RUN_DIR/diff.txt" || rc=$?
changes=$(grep -E '^[-+~] ' "$E2E_RUN_DIR/diff.txt" | sed -E 's/^(.) #[0-9/#]+ /\1 /' || true)
want_changes="~ SET_FEATURES: in.features 0x130008000 -> 0x130000000 (-MRG_RXBUF)
~ SET_VRING_NUM index=0: in.num 256 -> 512"
check "diff of the two guests: exactly the feature and ring-size changes (exit 1)" \
	bash -c "[ $rc = 1 ] && [ \"\$1\" = \"\$2\" ]" _ "$changes" "$want_changes"
check "diff of a trace with itself: no difference (exit 0)" \
	bash -c '"$1" diff "$2" "$2" >/dev/null' _ "$TRACE_TOOL" "$A"
if [ "$changes" != "$want_changes" ]; then
	e2e_show_file "$E2E_RUN_DIR/diff.txt" 40
fi
e2e_run_end
e2e_finish
