#!/usr/bin/env bash
# Sets up and runs every usvhost test: installs what is missing, builds, and
# runs the unit, integration and end-to-end tests (unmodified QEMU), then the
# same under ASan/UBSan and the unit tests under valgrind, then distcheck.
set -eu

usage() {
	cat <<'TXT'
Usage: run-tests.sh [--quick] [--no-deps] [--help]

Runs, from a fresh clone, as root:
  1. scripts/install-deps.sh (skipped with --no-deps)
  2. ./autogen.sh, then an out-of-tree build in build/ and 'make check':
     cmocka unit tests, the integration client against the FUSE front, and
     the end-to-end tests booting unmodified QEMU (TCG) against usvhostd
  3. build-asan/: the unit, integration, conformance and main e2e tests with ASan
     and UBSan
  4. build-fuzz/ (CC=clang --enable-fuzzing): the libFuzzer targets replay
     their regression inputs, then run FUZZ_SECONDS (default 60) each
  5. the unit tests and the integration clients under valgrind
  6. make distcheck (with the unit tests)
--quick   only step 2.
Tests that need root, /dev/fuse or /dev/net/tun skip (exit 77) without them;
here any skipped test makes the run fail.
TXT
}

quick=0 deps=1
for a in "$@"; do
	case "$a" in
		--quick) quick=1 ;;
		--no-deps) deps=0 ;;
		--help|-h) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
	esac
done

src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
jobs=$(nproc 2>/dev/null || echo 2)
export USVHOST_E2E_REQUIRE=1
step() { printf '\n==== %s ====\n' "$*"; }

if [ "$deps" -eq 1 ]; then
	step "dependencies"
	scripts/install-deps.sh
fi
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	step "autogen"
	./autogen.sh
fi

# build DIR CONFIGURE-ARGS...: configure once, then make.
build() {
	local dir=$1
	shift
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && "$src/configure" -q "$@")
	fi
	make -s -C "$dir" -j"$jobs"
}

# check DIR [TESTS]: make check, showing the logs of failures.
check() {
	local dir=$1 tests=${2:-} out skipped
	out=$(mktemp)
	if ! (set -o pipefail; make -C "$dir" -j1 check ${tests:+TESTS="$tests"} 2>&1 | tee "$out"); then
		find "$dir/tests" -name '*.log' -newer "$dir/Makefile" -print0 |
			xargs -0 grep -l -E '^(FAIL|ERROR)' 2>/dev/null |
			while read -r l; do echo "---- $l"; tail -n 60 "$l"; done
		rm -f "$out"
		return 1
	fi
	# Here every test can run: a skipped one means a missing prerequisite.
	skipped=$(grep -E '^SKIP:' "$out" || true)
	rm -f "$out"
	if [ -n "$skipped" ]; then
		echo "run-tests: tests skipped, which this machine should not need:" >&2
		echo "$skipped" >&2
		return 1
	fi
}

step "build and test (build/)"
build build --enable-werror
check build

[ "$quick" -eq 0 ] || exit 0

# The cmocka programs, named after their sources.
unit_tests=$(cd "$src" && ls tests/unit/test_*.c 2>/dev/null | sed 's/\.c$//' | tr '\n' ' ')

# Under the sanitizers: everything that runs the daemon's code paths, but not
# the guest-variant matrix or the VM (both already ran above).
step "ASan + UBSan (build-asan/)"
build build-asan --enable-sanitizers --enable-werror
check build-asan "$unit_tests tests/integration/qemu-sequence.sh tests/integration/ring-faults.sh \
	tests/integration/hostile.sh tests/conformance/conformance-fuse.sh tests/integration/trace-client.sh \
	tests/integration/seccomp.sh tests/integration/control.sh tests/integration/notify.sh \
	tests/integration/trace-export.sh tests/integration/handover.sh tests/integration/takeover.sh \
	tests/e2e/qemu-driver-ok.sh tests/e2e/traffic-basic.sh tests/e2e/traffic-reload.sh \
	tests/e2e/traffic-packed.sh tests/e2e/traffic-viommu.sh tests/e2e/qemu-sigkill.sh \
	tests/e2e/upgrade.sh"

# libFuzzer: the ioctl dispatcher, the ring walker, the datapath's TX/RX
# handlers, the trace loader and the takeover state, for a bounded time each
# (docs/fuzzing.md);
# any crash fails the run.
step "fuzzing (build-fuzz/)"
build build-fuzz CC=clang --enable-fuzzing --enable-werror
make -s -C build-fuzz fuzz-check FUZZ_SECONDS="${FUZZ_SECONDS:-60}"

# valgrind: the unit tests and the integration clients. (Not the daemon:
# valgrind 3.19 knows neither pidfd_open nor pidfd_getfd.)
step "valgrind: unit tests and the integration clients"
for t in $unit_tests; do
	echo "valgrind $t"
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
		build/"$t" >/dev/null
done
USVHOST_CLIENT_WRAPPER="valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite" \
	check build "tests/integration/qemu-sequence.sh tests/integration/ring-faults.sh"

step "distcheck (the tarball builds, installs, and passes the unit tests)"
make -C build -j"$jobs" distcheck TESTS="$unit_tests" >/dev/null
echo "distcheck passed"

step "all tests passed"
