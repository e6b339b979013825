#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host comparison: usvhost-bench on the raw tap versus usvhostd's FUSE
# front with shared memfd RAM and with anonymous RAM, TX and RX, 64, 1500 and
# 65000 bytes, N runs of each (interleaved, so a slow moment of the machine
# hits every column alike), median with min and max; writes its section of
# docs/benchmarks.md.
# Prints figures; not a test, not run in CI.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
prog=${0##*/}

usage() {
	cat <<USAGE
Usage: $prog [options]

Starts usvhostd on a FUSE mount in private mount and network namespaces and
runs usvhost-bench against it and against the raw tap (--raw): TX and RX,
64 / 1500 / 65000-byte frames, guest RAM memfd and anon. Writes a Markdown
report (date, machine, kernel, versions, the table with medians, min and max,
ratios to the raw tap, the backend's CPU per packet) as its section of the
--out file; the rest of that file stays. scripts/bench-vm.sh compares with
the kernel's vhost_net.

Options:
  --secs=S          seconds per run (default 3)
  --runs=N          runs per figure (default 3)
  --guest=irq|poll  the guest driver's mode (default irq)
  --sizes="A B .."  frame sizes (default "64 1500 65000")
  --out=FILE        the report (default SRCDIR/docs/benchmarks.md)
  --note=TEXT       a sentence for the report (what else the machine ran)
  --build-dir=DIR   where usvhostd and usvhost-bench were built (default:
                    SRCDIR/build, or \$USVHOST_BUILD_DIR)
  --help            this text

Needs root, /dev/fuse, /dev/net/tun, unshare(1) and python3.
USAGE
}

die() {
	echo "$prog: error: $*" >&2
	exit 1
}

secs=3 runs=3 guest=irq sizes="64 1500 65000" out=$srcdir/docs/benchmarks.md note=""
builddir=${USVHOST_BUILD_DIR:-$srcdir/build}
while [ $# -gt 0 ]; do
	case $1 in
	--secs=*) secs=${1#*=} ;;
	--runs=*) runs=${1#*=} ;;
	--guest=irq | --guest=poll) guest=${1#*=} ;;
	--sizes=*) sizes=${1#*=} ;;
	--out=*) out=${1#*=} ;;
	--note=*) note=${1#*=} ;;
	--build-dir=*) builddir=${1#*=} ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	shift
done
case $secs in '' | *[!0-9]* | 0) die "--secs wants a positive number" ;; esac
case $runs in '' | *[!0-9]* | 0) die "--runs wants a positive number" ;; esac
for s in $sizes; do
	case $s in '' | *[!0-9]*) die "--sizes wants numbers" ;; esac
done
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
case $out in /*) ;; *) out=$PWD/$out ;; esac
. "$srcdir/scripts/bench-host-lib.sh"
bench_host_binaries "$builddir"

bench_host_enter_ns --secs="$secs" --runs="$runs" --guest="$guest" --sizes="$sizes" \
	--out="$out" --note="$note" --build-dir="$builddir"

# ---- in the private namespaces ---------------------------------------------

bench_host_start_daemon usvhost-bench

results=$work/results.jsonl
: >"$results"
total=$((runs * 2 * $(wc -w <<<"$sizes") * 3)) n=0
for run in $(seq "$runs"); do
	for test in tx rx; do
		for size in $sizes; do
			for cfg in raw memfd anon; do
				n=$((n + 1))
				if [ "$cfg" = raw ]; then
					args=(--raw)
				else
					args=(--dev="$mnt/vhost-net" --ram="$cfg" --backend-pid="$dpid")
				fi
				echo "$prog: [$n/$total] run $run: $test $size bytes, $cfg" >&2
				bench_host_record $((secs + 30)) "\"cfg\":\"$cfg\",\"run\":$run" \
					"\"test\":\"$test\",\"size\":$size" "${args[@]}" --test="$test" \
					--size="$size" --guest="$guest" --secs="$secs"
			done
		done
	done
done

mkdir -p "$(dirname "$out")"
daemon_version=$("$daemon" --version 2>/dev/null || echo "usvhostd ?")
git_rev=$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo "?")
export SCRIPTS=$srcdir/scripts RESULTS=$results SECTION=$work/section.md SIZES=$sizes RUNS=$runs SECS=$secs GUEST=$guest NOTE=$note \
	DAEMON_VERSION=$daemon_version GIT_REV=$git_rev
python3 - <<'PY'
import datetime, json, os, platform, statistics, sys

sys.path.insert(0, os.environ["SCRIPTS"])
from bench_report import fig, machine, ratio  # noqa: E402

env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"])]
sizes = [int(s) for s in env["SIZES"].split()]


def cell(test, size, cfg, key="pps"):
    """(median, min, max, runs that failed or whose counters did not match)"""
    mine = [r for r in rows if r["cfg"] == cfg and
            (r["r"]["test"], r["r"]["size"]) == (test, size) if "r" in r]
    bad = sum(1 for r in rows if r["cfg"] == cfg and r.get("failed") and
              (r["test"], r["size"]) == (test, size))
    bad += sum(1 for r in mine if not r["r"]["match"])
    if key == "ns":
        v = [(r["r"]["backend"] or {}).get("ns_per_packet") for r in mine]
    else:
        v = [r["r"][key] for r in mine]
    v = [x for x in v if x is not None]
    if not v:
        return (None, None, None, bad)
    return (statistics.median(v), min(v), max(v), bad)


def ns(c):
    if c[0] is None:
        return "-"
    return "%.0f (%.0f-%.0f)" % (c[0], c[1], c[2])


now = datetime.datetime.now(datetime.timezone.utc)
o = []
w = o.append
w("## Host: raw tap versus usvhostd's FUSE front")
w("")
w("Written by `scripts/bench.sh` between the markers; run it again rather than editing")
w("this part.")
w("")
w("* date: %s" % now.strftime("%Y-%m-%d %H:%M UTC"))
w("* machine: %s" % machine())
w("* kernel: Linux %s (%s)" % (platform.release(), platform.machine()))
w("* versions: %s (default options: FUSE front, default workers), usvhost-bench from the"
  % env["DAEMON_VERSION"])
w("  same tree, git %s" % env["GIT_REV"])
w("* method: %s runs of %s s per figure, interleaved (raw, memfd, anon for each test and"
  % (env["RUNS"], env["SECS"]))
w("  size in turn); median (min-max) of packets per second; ratios of medians to the raw")
w("  tap's; guest driver `--guest=%s`, ring 256, one device; backend CPU = usvhostd's"
  % env["GUEST"])
w("  threads' utime+stime over the measure divided by the packets counted.")
w("* the tap's own counters matched usvhost-bench's count in every run, unless a cell")
w("  says otherwise.")
if env.get("NOTE"):
    w("* note: " + env["NOTE"])
w("")
w("raw tap: one thread `write()`s (TX) or `read()`s (RX) the tap fd: the reference.")
w("memfd: guest RAM a sealed shared memfd (`memory-backend-memfd,share=on`), which usvhostd")
w("maps. anon: QEMU's default anonymous private RAM, which usvhostd reaches through the")
w("owner's memory. TX: the guest posts frames, the host side counts them. RX: the bench's")
w("host side sends as fast as it can on an AF_PACKET socket; the tap drops what its queue")
w("cannot hold, and the figure is what the backend (or the raw reader) took from the tap.")
w("")
w("| test | size | raw tap | usvhostd memfd | ratio | usvhostd anon | ratio "
  "| CPU ns/packet, memfd | CPU ns/packet, anon |")
w("|---|---|---|---|---|---|---|---|---|")
for t in ("tx", "rx"):
    for s in sizes:
        r, m, a = (cell(t, s, c) for c in ("raw", "memfd", "anon"))
        w("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            t.upper(), s, fig(r), fig(m), ratio(m, r), fig(a), ratio(a, r),
            ns(cell(t, s, "memfd", "ns")), ns(cell(t, s, "anon", "ns"))))
w("")
w('Reading the table: a ratio above 1 does not mean usvhostd beats the tap. The raw')
w("reference is one thread doing every `write()` or `read()`; through usvhostd the guest's")
w("thread and usvhostd's worker run in parallel, which on a shared machine also means a")
w("larger share of the CPUs. The CPU columns are the comparable cost: usvhostd's own time")
w('per packet. With anonymous RAM every ring access and copy is a system call into the')
w("guest's memory (`process_vm_readv`/`writev`), which is what the anon columns pay for.")
w("")
w("Command: `sudo scripts/bench.sh --secs=%s --runs=%s --guest=%s`."
  % (env["SECS"], env["RUNS"], env["GUEST"]))
w("")
open(env["SECTION"], "w").write("\n".join(o))
print("\n".join(o))
PY
# Only this script's section of the report: the rest (the VM section of
# scripts/bench-vm.sh, the notes written by hand) stays.
python3 "$srcdir/scripts/bench-section.py" "$out" bench-host <"$work/section.md"
echo "$prog: wrote its section of $out" >&2
