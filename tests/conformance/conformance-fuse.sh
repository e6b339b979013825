#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The conformance table on this host, against usvhostd's FUSE-file front
# (CUSE and the kernel's vhost_net need the test VM: tests/vm/). Every
# scenario of vhost_conformance runs on a fresh open of MOUNT/vhost-net and
# its answer is checked against the kernel's, recorded in the table from
# runs on Linux 6.1's vhost_net, or against the deliberate difference the
# table records for usvhostd or its FUSE front (docs/conformance.md).
# Runs in private mount and network namespaces; skips (77) without root,
# /dev/fuse or /dev/net/tun.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
E2E_NAME=conformance-fuse
. "$top_srcdir/tests/lib/e2e-lib.sh"

client=$top_builddir/tests/conformance/vhost_conformance
[ "$(id -u)" = 0 ] || e2e_skip "needs root (FUSE mount, taps, packet sockets)"
[ -c /dev/fuse ] || e2e_skip "/dev/fuse missing"
[ -c /dev/net/tun ] || e2e_skip "/dev/net/tun missing"
unshare -m -n --propagation private true 2>/dev/null || e2e_skip "cannot create mount+network namespaces"
[ -x "$client" ] || e2e_die "$client not built"
e2e_enter_namespaces "$@"
e2e_setup

e2e_run_begin fuse
e2e_start_daemon
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
t0=$SECONDS
rc=0
# shellcheck disable=SC2086 # a wrapper is a word list
(cd "$E2E_DIR" && timeout -s KILL $((300 * scale)) ${USVHOST_CLIENT_WRAPPER:-} "$client" \
	--dev="$E2E_MNT/vhost-net" --as=fuse "$@") >"$E2E_RUN_DIR/client.log" 2>&1 || rc=$?
cat "$E2E_RUN_DIR/client.log"
if [ "$rc" = 0 ]; then
	e2e_pass "$(tail -n 1 "$E2E_RUN_DIR/client.log") ($((SECONDS - t0)) s)"
else
	e2e_fail "vhost_conformance exit $rc: $(tail -n 1 "$E2E_RUN_DIR/client.log")"
fi
e2e_check_daemon_stop
if grep -qiE 'sanitizer|runtime error|segmentation|assertion' "$E2E_RUN_DIR/daemon.log"; then
	e2e_fail "the daemon log reports a crash"
fi
e2e_run_end
e2e_finish
