#!/usr/bin/env bash
# Record and replay without QEMU: the integration client (tests/integration/
# qemu_client: QEMU 7.2's sequence, a second process, concurrent clients, an
# abandoned device, and every error the kernel gives) runs against usvhostd
# --trace; the trace replays against a fresh usvhostd with no divergence.
# Then --inject's nth/count, --trace=- and usvhostd's option checks.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source-path=SCRIPTDIR source=../lib/e2e-lib.sh
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${TRACE_TOOL:=$top_builddir/src/usvhost-trace}"
CLIENT=$top_builddir/tests/integration/qemu_client

[ "$(id -u)" = 0 ] || e2e_skip "needs root (FUSE mount, taps, namespaces)"
[ -c /dev/fuse ] || e2e_skip "/dev/fuse missing"
[ -c /dev/net/tun ] || e2e_skip "/dev/net/tun missing"
command -v unshare >/dev/null 2>&1 || e2e_skip "unshare missing (util-linux)"
for b in "$USVHOSTD" "$TRACE_TOOL" "$CLIENT"; do
	[ -x "$b" ] || e2e_die "$b missing (make check builds it)"
done
if [ -z "${USVHOST_E2E_NS:-}" ] && ! unshare -m -n --propagation private true 2>/dev/null; then
	e2e_skip "cannot create mount+network namespaces"
fi
e2e_enter_namespaces "$@"
e2e_setup

check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then e2e_pass "$what"; else e2e_fail "$what"; fi
}

# Run the client (output kept in the run dir, never on ours).
run_client() { # [SCENARIO...]
	local rc=0
	timeout -k 5 120 "$CLIENT" --dev="$E2E_MNT/vhost-net" "$@" \
		>"$E2E_RUN_DIR/client.log" 2>&1 || rc=$?
	CLIENT_RC=$rc
}

# ---- record every scenario, replay it --------------------------------------------
e2e_run_begin record
e2e_start_daemon --trace="$E2E_RUN_DIR/trace.json"
run_client
e2e_check_daemon_stop
T=$E2E_DIR/client-trace.json
cp "$E2E_RUN_DIR/trace.json" "$T"
check "the client passed against usvhostd --trace (exit $CLIENT_RC)" [ "$CLIENT_RC" = 0 ]
n=$(grep -c '"type":"ioctl"' "$T" || true)
check "the trace has the client's ioctls ($n)" [ "$n" -gt 500 ]
# shellcheck disable=SC2016 # expanded by the inner bash
check "every line of the trace parses" bash -c '"$1" summary "$2" >/dev/null' _ "$TRACE_TOOL" "$T"
check "a second process's calls are traced with their own tgid" \
	bash -c "[ \$(grep -o '\"tgid\":[0-9]*' '$T' | sort -u | wc -l) -ge 3 ]"
check "errors are traced with their errno names" \
	bash -c "grep -q '\"errno\":\"EPERM\"' '$T' && grep -q '\"errno\":\"ENOBUFS\"' '$T' &&
		grep -q '\"errno\":\"EFAULT\"' '$T' && grep -q '\"errno\":\"ENOTTY\"' '$T'"
e2e_run_end

e2e_run_begin replay
e2e_start_daemon
rc=0
"$TRACE_TOOL" replay "$T" --device "$E2E_MNT/vhost-net" >"$E2E_RUN_DIR/replay.out" 2>&1 || rc=$?
e2e_stop_daemon
check "replay of the whole client trace against usvhostd: no divergence (exit $rc)" \
	grep -q ': 0 divergences' "$E2E_RUN_DIR/replay.out"
[ "$rc" = 0 ] || e2e_show_file "$E2E_RUN_DIR/replay.out" 30
e2e_run_end

# ---- --inject nth and count ---------------------------------------------------
e2e_run_begin inject
e2e_start_daemon --trace="$E2E_RUN_DIR/trace.json" --inject=set_vring_num:EINVAL:nth=2:count=2 \
	--inject=VHOST_GET_FEATURES:EFAULT:nth=3
run_client qemu72-memfd qemu72-anon driver-reload
e2e_check_daemon_stop
nums=$(grep '"ioctl":"SET_VRING_NUM"' "$E2E_RUN_DIR/trace.json" |
	sed -E 's/.*"ret":(-?[0-9]).*/\1/; s/$//' | tr '\n' ' ')
inj=$(grep '"ioctl":"SET_VRING_NUM"' "$E2E_RUN_DIR/trace.json" | grep -c '"injected":true' || true)
check "SET_VRING_NUM:EINVAL:nth=2:count=2 fails exactly the 2nd and 3rd call (answers: $nums)" \
	bash -c "[[ '$nums' =~ ^0\ -1\ -1(\ 0)+\ $ ]] && [ '$inj' = 2 ]"
feats=$(grep '"ioctl":"GET_FEATURES"' "$E2E_RUN_DIR/trace.json" |
	sed -E 's/.*"ret":(-?[0-9])(,"errno":"([A-Z]+)")?.*/\1\3/' | tr '\n' ' ')
check "GET_FEATURES:EFAULT:nth=3 (count 1) fails only the 3rd call (answers: $feats)" \
	bash -c "[[ '$feats' =~ ^0\ 0\ -1EFAULT(\ 0)*\ $ ]]"
check "the daemon logged each injected answer" \
	bash -c "[ \$(grep -c 'answered EINVAL by --inject' '$E2E_RUN_DIR/daemon.log') = 2 ]"
e2e_run_end

# ---- --trace=- ------------------------------------------------------------------
e2e_run_begin stdout
e2e_start_daemon --trace=-
run_client qemu72-memfd
e2e_check_daemon_stop
check "--trace=- writes the JSON lines to stdout" \
	bash -c "grep -q '^{\"type\":\"header\",\"format\":\"usvhost-trace\",\"version\":1' '$E2E_RUN_DIR/daemon.log' &&
		grep -q '^{\"type\":\"ioctl\",.*\"ioctl\":\"SET_MEM_TABLE\"' '$E2E_RUN_DIR/daemon.log'"
e2e_run_end

# ---- option checks ----------------------------------------------------------------
e2e_run_begin options
# shellcheck disable=SC2317 # called through check
bad() { ! "$USVHOSTD" --transport=fuse --mount="$E2E_DIR/never" "$@" >"$E2E_RUN_DIR/bad.log" 2>&1; }
check "--inject with an unknown ioctl is refused" bad --inject=SET_NOTHING:EFAULT
check "--inject with an unknown errno is refused" bad --inject=SET_MEM_TABLE:ENOSUCH
check "--inject with a bad nth is refused" bad --inject=SET_MEM_TABLE:EFAULT:nth=0
check "--inject with an unknown field is refused" bad --inject=SET_MEM_TABLE:EFAULT:every=2
check "--trace=- without --foreground is refused" bad --trace=-
# shellcheck disable=SC2016 # expanded by the inner bash
check "--profile=list lists the kernel profiles" \
	bash -c '"$1" --profile=list | grep -q "linux-4.14" && "$1" --profile=list | grep -q "linux-6.17"' _ "$USVHOSTD"
e2e_run_end
e2e_finish
