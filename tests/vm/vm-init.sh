#!/bin/bash
# Second stage of the test VM, run by its /init (scripts/vm-prepare.sh) as
# root in a chroot of the host's root: reads the run description that
# scripts/vm-run.sh left in the results share, runs each named test
# (tests/vm/t-NAME.sh) with its output on the console and in
# RESULTS/NAME.log, writes RESULTS/summary and exits with the verdict:
# 0 all passed, 1 one failed, 77 all skipped.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp LC_ALL=C
VM_ROOT=/run/usvhost-vm
VM_RESULTS=$VM_ROOT/results
# shellcheck disable=SC1091
. "$VM_RESULTS/run.env" || { echo "vm-init: no $VM_RESULTS/run.env"; exit 125; }
export VM_ROOT VM_RESULTS USVHOST_KVER VM_KROOT_REL VM_NESTED_INITRD_REL VM_VMLINUZ_REL
export top_srcdir=$VM_ROOT/src top_builddir=$VM_ROOT/build
export VM_HOST_SRCDIR VM_HOST_BUILDDIR
for v in USVHOST_E2E_REQUIRE VM_VERBOSE VM_NESTED_TIMEOUT VM_NESTED_ACCEL VM_NESTED_QUIET VM_BOOT_LOOP VM_BOOT_LOOP_CHURN VM_BOOT_LOOP_MIGRATE VM_BOOT_LOOP_BACKEND VM_BOOT_LOOP_GUESTS VM_BOOT_LOOP_NOREBOOT VM_BOOT_LOOP_NOKASLR VM_BOOT_LOOP_NPT VM_BOOT_LOOP_KVMTRACE VM_NESTED_APPEND VM_BLOB_BYTES VM_CONFORMANCE_ARGS; do
	[ -z "${!v:-}" ] || export "${v?}"
done

echo "vm-init: kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB; tests: $VM_TESTS"
ip link set lo up 2>/dev/null

pass=0 fail=0 skipped=0
: >"$VM_RESULTS/summary"
for t in $VM_TESTS; do
	script=$top_srcdir/tests/vm/t-$t.sh
	echo "vm-init: ==== $t ===="
	start=$SECONDS
	# Each test runs in a session of its own: whatever it leaves running is
	# killed (its process group) before the next one starts.
	setsid bash "$script" </dev/null >"$VM_RESULTS/$t.log" 2>&1 &
	pid=$!
	tail -s 0.2 -n +1 -F --pid="$pid" "$VM_RESULTS/$t.log" 2>/dev/null &
	tailpid=$!
	rc=0
	wait "$pid" || rc=$?
	# tail exits by itself after a last read once the test is gone.
	wait "$tailpid" 2>/dev/null
	if kill -0 -- -"$pid" 2>/dev/null; then
		echo "vm-init: $t left processes running: killing its process group"
		kill -KILL -- -"$pid" 2>/dev/null
	fi
	secs=$((SECONDS - start))
	case $rc in
	0) verdict=PASS; pass=$((pass + 1)) ;;
	77) verdict=SKIP; skipped=$((skipped + 1)) ;;
	*) verdict=FAIL; fail=$((fail + 1)) ;;
	esac
	echo "vm-init: ==== $t: $verdict (exit $rc, $secs s) ===="
	printf '%-16s %s (%s s)\n' "$t" "$verdict" "$secs" >>"$VM_RESULTS/summary"
done
echo "vm-init: $pass passed, $fail failed, $skipped skipped"
sync
[ "$fail" = 0 ] || exit 1
[ "$pass" -gt 0 ] || [ "$skipped" = 0 ] || exit 77
exit 0
