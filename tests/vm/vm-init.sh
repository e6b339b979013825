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
# Everything run.env sets is exported to the tests: scripts/vm-run.sh alone
# lists the knobs that pass through.
set -a
# shellcheck disable=SC1091
. "$VM_RESULTS/run.env" || { echo "vm-init: no $VM_RESULTS/run.env"; exit 125; }
set +a
export VM_ROOT VM_RESULTS
export top_srcdir=$VM_ROOT/src top_builddir=$VM_ROOT/build

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
