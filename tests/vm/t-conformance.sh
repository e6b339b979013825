#!/bin/bash
# test: ioctl conformance table: the kernel's vhost_net and usvhostd's CUSE node side by side
# Runs inside the test VM (tests/vm/vm-init.sh). The kernel's vhost_net holds
# /dev/vhost-net; usvhostd serves /dev/usvhost-net on its CUSE front; every
# scenario of tests/conformance/vhost_conformance runs on a fresh open of
# each, and the answers (return value, errno, output structs, ring words
# written) are compared. Any difference that is not a documented deliberate
# one (docs/conformance.md), or a kernel answer the table does not record,
# fails. The table is kept in RESULTS/conformance/table.txt (and .md).
set -eu
. "$top_srcdir/tests/vm/vm-lib.sh" conformance

client=$top_builddir/tests/conformance/vhost_conformance
[ -x "$client" ] || e2e_die "$client not built (make check builds it)"
vm_modprobe cuse tun || e2e_die "cannot load cuse/tun"
vm_kernel_vhost on
vm_daemon_start main usvhost-net

t0=$SECONDS
rc=0
# shellcheck disable=SC2086 # VM_CONFORMANCE_ARGS is a word list
(cd /tmp && timeout -s KILL 400 "$client" --kernel=/dev/vhost-net --usvhost=/dev/usvhost-net \
	--front=cuse --markdown="$VM_OUT/table.md" ${VM_CONFORMANCE_ARGS:-}) >"$VM_OUT/table.txt" 2>&1 || rc=$?
cat "$VM_OUT/table.txt"
summary=$(tail -n 1 "$VM_OUT/table.txt")
case $rc in
0) e2e_pass "conformance ($((SECONDS - t0)) s): $summary" ;;
*) e2e_fail "conformance (exit $rc, $((SECONDS - t0)) s): $summary" ;;
esac
vm_daemon_stop
vm_kernel_vhost off
e2e_finish
