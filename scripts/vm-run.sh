#!/usr/bin/env bash
# Boot the test VM (Debian's kernel under TCG, this host's root shared
# read-only over 9p) and run named tests inside it: usvhostd's CUSE front,
# nested KVM guests with plain vhost=on, the kernel's vhost_net as the
# reference, the ioctl conformance table. See docs/testing-vm.md.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

prog=${0##*/}
srcdir=$(cd "$(dirname "$0")/.." && pwd)

list_tests() {
	local f name desc
	for f in "$srcdir"/tests/vm/t-*.sh; do
		# t-bench.sh has no "test:" line: scripts/bench-vm.sh runs it.
		grep -q '^# *test:' "$f" || continue
		name=${f##*/t-}
		name=${name%.sh}
		desc=$(sed -n 's/^# *test: *//p' "$f" | head -n 1)
		printf '  %-16s %s\n' "$name" "$desc"
	done
}

usage() {
	cat <<EOF
Usage: $prog [options] TEST...     run the named tests in one VM boot
       $prog [options] all         every test below
       $prog [options] --shell     a root shell in the VM instead
       $prog --list

The VM: Debian's kernel (scripts/vm-prepare.sh fetches and caches it; it has
cuse, vhost_net and kvm_amd) booted with qemu-system-x86_64 -accel tcg -cpu
max; this host's / mounted read-only over 9p, the source, build and results
directories shared as well; /dev, /tmp and /run are the VM's own. The tests
run as root in a chroot of the host's root, so they use this host's
qemu-system-x86_64, busybox and the build's usvhostd. Nested guests run with
-accel kvm on the VM's emulated SVM.

Tests:
$(list_tests)

Options:
  --build-dir=DIR   the out-of-tree build to test (default: \$USVHOST_BUILD_DIR,
                    else SRCDIR/build); configured and built if needed
  --no-build        use the build as it is (CI: 'make check' built it)
  --results=DIR     keep logs here (default: a temporary directory, removed
                    when every test passed)
  --timeout=SECS    kill the VM after SECS (default 900)
  --memory=SIZE     VM RAM (default 2G)
  --smp=N           VM CPUs (default: 2)
  --tcg=single|multi  one host thread for all VM CPUs, or one each
                    (default: \$USVHOST_VM_TCG, else multi)
  --quiet           do not copy the VM console to stdout (it is still in
                    RESULTS/console.log; failures are shown)
  --help            this text
Environment: USVHOST_VM_CPU (the VM's -cpu, default max);
  USVHOST_VM_RESET_DUMP=1 (no -no-reboot: stop the VM at its first own reset,
  its registers in RESULTS/vm-reset.log; the VM boots with nokaslr).

Exit status: 0 every test passed, 1 a test failed or the VM did not finish,
77 skipped (no QEMU or no kernel; with USVHOST_E2E_REQUIRE=1 this is 1).
Needs no root on this host, only qemu-system-x86 and busybox-static, and the
network once (apt) to fetch the kernel package.
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }
skip() {
	echo "SKIP: $prog: $*"
	[ -t 1 ] || echo "SKIP: $prog: $*" >&2
	[ "${USVHOST_E2E_REQUIRE:-0}" != 1 ] || exit 1
	exit 77
}

builddir=${USVHOST_BUILD_DIR:-$srcdir/build}
build=1 results="" timeout=900 memory=2G smp=2 quiet=0 shell=0 tcg=${USVHOST_VM_TCG:-multi}
tests=()
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir=*) builddir=${1#*=} ;;
	--no-build) build=0 ;;
	--results=*) results=${1#*=} ;;
	--timeout=*) timeout=${1#*=} ;;
	--memory=*) memory=${1#*=} ;;
	--smp=*) smp=${1#*=} ;;
	--tcg=*) tcg=${1#*=} ;;
	--quiet) quiet=1 ;;
	--shell) shell=1 ;;
	--list) list_tests; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option '$1' (try --help)" ;;
	all) for f in "$srcdir"/tests/vm/t-*.sh; do
			grep -q '^# *test:' "$f" || continue
			n=${f##*/t-}
			tests+=("${n%.sh}")
		done ;;
	*) [ -f "$srcdir/tests/vm/t-$1.sh" ] || die "no test '$1' (see --list)"
		tests+=("$1") ;;
	esac
	shift
done
[ "$shell" = 1 ] || [ ${#tests[@]} -gt 0 ] || { usage >&2; exit 2; }
case $timeout in '' | *[!0-9]*) die "--timeout takes seconds" ;; esac
case $tcg in single | multi) ;; *) die "--tcg takes single or multi" ;; esac
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac

command -v qemu-system-x86_64 >/dev/null 2>&1 ||
	skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
[ -x /bin/busybox ] || skip "/bin/busybox missing (apt-get install busybox-static)"

# ---- the build -------------------------------------------------------------
if [ "$build" = 1 ]; then
	if [ ! -f "$builddir/Makefile" ]; then
		if [ ! -x "$srcdir/configure" ]; then
			(cd "$srcdir" && ./autogen.sh) >&2 || die "autogen.sh failed"
		fi
		mkdir -p "$builddir"
		(cd "$builddir" && "$srcdir/configure" -q) >&2 ||
			die "configure failed (see $builddir/config.log)"
	fi
	echo "$prog: building in $builddir" >&2
	make -s -C "$builddir" -j"$(nproc)" >&2 || die "build failed"
	make -s -C "$builddir" -j"$(nproc)" tests/integration/qemu_client \
		tests/conformance/vhost_conformance >&2 || die "building the test clients failed"
fi
[ -x "$builddir/src/usvhostd" ] || die "$builddir/src/usvhostd not built (drop --no-build, or build first)"

# ---- the VM images (cached) ------------------------------------------------
penv=$("$srcdir/scripts/vm-prepare.sh" --quiet) ||
	skip "cannot prepare the VM (scripts/vm-prepare.sh failed: offline, no kernel package?)"
eval "$penv"

# ---- results and the run description ---------------------------------------
keep=1
if [ -z "$results" ]; then
	results=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-vm.XXXXXX")
	keep=0
fi
mkdir -p "$results"
case $results in /*) ;; *) results=$PWD/$results ;; esac
chmod 0777 "$results"
rm -f "$results/exit" "$results/summary"
{
	printf 'VM_TESTS=%q\n' "${tests[*]-}"
	printf 'USVHOST_KVER=%q\n' "$USVHOST_KVER"
	printf 'VM_KROOT_REL=%q\n' "${USVHOST_KROOT#"$USVHOST_CACHE"/}"
	printf 'VM_NESTED_INITRD_REL=%q\n' "${USVHOST_VM_NESTED_INITRD#"$USVHOST_CACHE"/}"
	printf 'VM_VMLINUZ_REL=%q\n' "${USVHOST_VMLINUZ#"$USVHOST_CACHE"/}"
	printf 'VM_HOST_SRCDIR=%q\nVM_HOST_BUILDDIR=%q\n' "$srcdir" "$builddir"
	# Pass the harness's knobs through.
	for v in USVHOST_E2E_REQUIRE VM_VERBOSE VM_NESTED_TIMEOUT VM_NESTED_ACCEL VM_NESTED_QUIET VM_BOOT_LOOP VM_BOOT_LOOP_CHURN VM_BOOT_LOOP_MIGRATE VM_BOOT_LOOP_BACKEND VM_BOOT_LOOP_GUESTS VM_BOOT_LOOP_NOREBOOT VM_BOOT_LOOP_NOKASLR VM_BOOT_LOOP_NPT VM_BOOT_LOOP_KVMTRACE VM_NESTED_APPEND VM_BLOB_BYTES VM_CONFORMANCE_ARGS; do
		[ -z "${!v:-}" ] || printf '%s=%q\n' "$v" "${!v}"
	done
} >"$results/run.env"

# ---- boot ------------------------------------------------------------------
append="console=ttyS0 panic=-1 quiet"
[ "$shell" = 0 ] || append="$append usvhost.shell=1"
# USVHOST_VM_RESET_DUMP=1 (diagnostics): the VM itself without -no-reboot
# and with nokaslr; a reset (a triple fault in the VM's own kernel) is
# logged with TCG's registers at that moment in RESULTS/vm-reset.log, and
# the VM is stopped there.
[ "${USVHOST_VM_RESET_DUMP:-0}" != 1 ] || append="$append nokaslr"
# shellcheck disable=SC2054 # commas are QEMU's option syntax
qemu_args=(-accel "tcg,thread=$tcg" -cpu "${USVHOST_VM_CPU:-max}" -smp "$smp" -m "$memory" -nographic -nic none
	-kernel "$USVHOST_VMLINUZ" -initrd "$USVHOST_VM_INITRD" -append "$append"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$srcdir,mount_tag=usvsrc,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$builddir,mount_tag=usvbuild,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$USVHOST_CACHE,mount_tag=usvcache,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$results,mount_tag=usvresults,security_model=none,multidevs=remap")
if [ "${USVHOST_VM_RESET_DUMP:-0}" = 1 ]; then
	qemu_args+=(-d cpu_reset -D "$results/vm-reset.log")
else
	qemu_args+=(-no-reboot)
fi
printf '%q ' qemu-system-x86_64 "${qemu_args[@]}" >"$results/vm.cmd"
echo >>"$results/vm.cmd"

if [ "$shell" = 1 ]; then
	echo "$prog: VM shell (Ctrl-A x kills the VM); results share: $results" >&2
	exec qemu-system-x86_64 "${qemu_args[@]}"
fi

echo "$prog: booting the test VM for: ${tests[*]} (results in $results)"
t0=$SECONDS
console=$results/console.log
qemu-system-x86_64 "${qemu_args[@]}" </dev/null >"$console" 2>&1 &
qpid=$!
tailpid=""
if [ "$quiet" = 0 ]; then
	# Stream the console; strip the firmware's terminal escapes and CRs.
	tail -s 0.2 -n +1 -F --pid="$qpid" "$console" 2>/dev/null |
		sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' -e 's/\x1bc//g' &
	tailpid=$!
fi
cleanup() {
	if kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null || true
		sleep 1
		kill -KILL "$qpid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
timed_out=0
while kill -0 "$qpid" 2>/dev/null; do
	# Power-on resets CPU 0 twice; INITs reset the others at each boot: a
	# third reset of CPU 0 is the VM's own.
	resets=0
	[ "${USVHOST_VM_RESET_DUMP:-0}" != 1 ] || resets=$(grep -c '^CPU Reset (CPU 0)' "$results/vm-reset.log" 2>/dev/null || true)
	if [ "${resets:-0}" -gt 2 ]; then
		sleep 1
		echo "$prog: the VM reset itself: its registers are in $results/vm-reset.log"
		grep -m1 -i 'triple fault' "$results/vm-reset.log" || true
		kill -KILL "$qpid" 2>/dev/null || true
		break
	fi
	if [ $((SECONDS - t0)) -ge "$timeout" ]; then
		timed_out=1
		echo "$prog: the VM did not finish within $timeout s: killing it"
		kill -KILL "$qpid" 2>/dev/null || true
		break
	fi
	sleep 0.5
done
qrc=0
wait "$qpid" 2>/dev/null || qrc=$?
# tail stops by itself after a last read once QEMU is gone.
[ -z "$tailpid" ] || wait "$tailpid" 2>/dev/null || true
trap - EXIT

vm_exit=$(tr -d '\r' <"$console" | sed -n 's/^USVHOST_VM_EXIT=\([0-9]*\).*/\1/p' | tail -n 1)
echo "$prog: VM ran $((SECONDS - t0)) s (QEMU exit $qrc, tests exit ${vm_exit:-none})"
[ ! -s "$results/summary" ] || { echo "$prog: summary:"; sed 's/^/  /' "$results/summary"; }
rc=1
if [ "$timed_out" = 1 ]; then
	echo "FAIL: $prog: timeout after $timeout s"
elif [ -z "$vm_exit" ]; then
	echo "FAIL: $prog: the VM stopped without reporting an exit status"
	[ "$quiet" = 0 ] || tail -n 60 "$console"
else
	rc=$vm_exit
fi
if [ "$rc" != 0 ] && [ "$quiet" = 1 ]; then
	tail -n 100 "$console" | tr -d '\r'
fi
if [ "$rc" = 0 ] && [ "$keep" = 0 ]; then
	rm -rf "$results"
else
	echo "$prog: logs in $results"
fi
case $rc in
0 | 77) ;;
*) rc=1 ;;
esac
if [ "$rc" = 77 ] && [ "${USVHOST_E2E_REQUIRE:-0}" = 1 ]; then
	echo "FAIL: $prog: every test skipped (USVHOST_E2E_REQUIRE=1)"
	rc=1
fi
exit "$rc"
