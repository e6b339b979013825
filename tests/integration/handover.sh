#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: the fronts hand a live FUSE session to another process
# (what usvhostd --takeover builds on), without the daemon: handover_check
# plays the serving process, the inheriting one and the user (see its
# header). A failed hand-over leaves the first process serving; a
# successful one loses no request and the inheriting process's exit
# unmounts the file.
#
# Runs inside private mount and network namespaces (daemon-lib.sh).
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=handover.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/handover_check

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

enter_namespaces USVHOST_HANDOVER_NS "$@"
setup_run handover-check.log usvhost-handover
mkdir -p "$mnt" || hard_error "cannot create $mnt"

timeout $((60 * scale)) "$client" "$mnt" >"$log" 2>&1
rc=$?
cat "$log"
[ "$rc" = 0 ] || fail "handover_check exited $rc"
mounted && fail "$mnt still mounted"
[ "$failed" = 0 ] && echo "PASS: $me"
exit "$failed"
