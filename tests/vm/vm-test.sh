#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# 'make check' entry for the tests that run inside the test VM:
#   vm-test.sh VM-TEST...   (tests/vm/vm-cuse.sh etc. call it)
# boots the VM once with scripts/vm-run.sh, using this build without
# rebuilding it, and runs the named tests/vm/t-NAME.sh in it.
# USVHOST_VM_TESTS=0 skips them (for a second build of the same tree, say);
# USVHOST_VM_TIMEOUT bounds the VM (seconds, default 900).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
[ $# -gt 0 ] || { echo "usage: vm-test.sh VM-TEST..." >&2; exit 2; }
if [ "${USVHOST_VM_TESTS:-1}" = 0 ]; then
	echo "SKIP: VM tests $*: USVHOST_VM_TESTS=0"
	exit 77
fi
exec bash "$top_srcdir/scripts/vm-run.sh" --no-build --build-dir="$top_builddir" \
	--timeout="${USVHOST_VM_TIMEOUT:-900}" "$@"
