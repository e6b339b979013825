#!/usr/bin/env bash
# Runs usvhost's libFuzzer targets (built by configure --enable-fuzzing):
# first every saved regression input once, then each target for a bounded
# time from its seed corpus. Fails on any crash, leak, timeout or broken
# invariant, and prints per target the executions and coverage reached.
set -u

usage() {
	cat <<'TXT'
Usage: run-fuzzers.sh [--builddir DIR] [--seconds N] [--replay-only] [TARGET...]

TARGET: fuzz_ioctl, fuzz_vring, fuzz_net, fuzz_trace_load, fuzz_devstate
(default: all five, one after the other).
--builddir DIR   the --enable-fuzzing build (default: the current directory)
--seconds N      fuzzing time per target (default: $FUZZ_SECONDS, else 60)
--replay-only    only replay tests/fuzz/regressions and the seed corpora
Environment: FUZZ_SECONDS; FUZZ_WORKDIR (default DIR/tests/fuzz/work: the
growing corpus, logs and crash artifacts); FUZZ_ARGS (more libFuzzer options).
TXT
}

src=$(cd "$(dirname "$0")" && pwd)
builddir=.
seconds=${FUZZ_SECONDS:-60}
replay_only=0
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
		--builddir) builddir=$2; shift ;;
		--seconds) seconds=$2; shift ;;
		--replay-only) replay_only=1 ;;
		--help|-h) usage; exit 0 ;;
		fuzz_*) targets+=("$1") ;;
		*) usage >&2; exit 2 ;;
	esac
	shift
done
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_ioctl fuzz_vring fuzz_net fuzz_trace_load fuzz_devstate)
builddir=$(cd "$builddir" && pwd)
work=${FUZZ_WORKDIR:-$builddir/tests/fuzz/work}

# Per target: the longest input, and libFuzzer options of its own.
# fuzz_trace_load's stderr is closed: the loader reports every refused line
# there (libFuzzer keeps its own output and crash reports).
max_len() {
	case "$1" in
		fuzz_trace_load) echo 8192 ;;
		*) echo 4096 ;;
	esac
}
own_args() {
	case "$1" in
		fuzz_trace_load) echo "-close_fd_mask=2 -dict=$src/trace.dict" ;;
		fuzz_devstate) echo "-dict=$src/devstate.dict" ;;
	esac
}

# Leaks are failures; a core dump of a 20 TB ASan address space is not wanted.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:disable_coredump=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${targets[@]}"; do
	bin=$builddir/tests/fuzz/$t
	seeds=$src/corpus/$t
	regs=$src/regressions/$t
	if [ ! -x "$bin" ]; then
		echo "run-fuzzers: $bin missing (configure CC=clang --enable-fuzzing; make)" >&2
		exit 2
	fi
	mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
	log=$work/$t.log

	# 1. Every input that once crashed, and every seed, once.
	inputs=()
	for f in "$regs"/* "$seeds"/*; do
		[ -f "$f" ] && inputs+=("$f")
	done
	if [ ${#inputs[@]} -eq 0 ]; then
		echo "run-fuzzers: $t: no seed corpus in $seeds" >&2
		failed+=("$t (no seeds)")
		continue
	fi
	# shellcheck disable=SC2046
	if ! "$bin" -rss_limit_mb=2048 -timeout=25 $(own_args "$t") "${inputs[@]}" \
		>"$work/$t.replay.log" 2>&1; then
		echo "run-fuzzers: $t: a saved input fails:" >&2
		tail -n 40 "$work/$t.replay.log" >&2
		failed+=("$t (replay)")
		continue
	fi
	nreg=$(find "$regs" -type f 2>/dev/null | wc -l)
	echo "run-fuzzers: $t: ${#inputs[@]} saved inputs pass ($nreg regression inputs)"
	[ "$replay_only" -eq 0 ] || continue

	# 2. Fuzz for a bounded time. New inputs go to the work corpus, never
	# into the source tree.
	# shellcheck disable=SC2046,SC2086
	"$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -rss_limit_mb=2048 \
		-timeout=25 -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" \
		$(own_args "$t") ${FUZZ_ARGS:-} \
		"$work/corpus/$t" "$seeds" >"$log" 2>&1
	rc=$?
	final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	edges=$(sed -n 's/^INFO: Loaded 1 modules *(\([0-9]*\) inline 8-bit counters.*/\1/p' "$log" |
		head -n 1)
	line=$(printf '%-16s %10s execs %7s/s  cov %5s of %5s  ft %6s  corpus %5s  rss %s MB' \
		"$t" "$(final_stat number_of_executed_units)" "$(final_stat average_exec_per_sec)" \
		"${cov:-?}" "${edges:-?}" "${ft:-?}" "${corp:-?}" "$(final_stat peak_rss_mb)")
	if [ "$rc" -ne 0 ]; then
		echo "run-fuzzers: $t FAILED (exit $rc); the end of $log:" >&2
		tail -n 60 "$log" >&2
		ls -l "$work/artifacts/$t/" >&2
		failed+=("$t")
		summary+=("$line  FAILED")
	else
		summary+=("$line  ok")
	fi
done

if [ ${#summary[@]} -gt 0 ]; then
	echo "run-fuzzers: ${seconds}s per target:"
	printf '  %s\n' "${summary[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "run-fuzzers: FAILED: ${failed[*]} (inputs in $work/artifacts;" \
		"docs/fuzzing.md says how to minimise and keep them)" >&2
	exit 1
fi
echo "run-fuzzers: no crash"
