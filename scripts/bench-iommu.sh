#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What a guest vIOMMU costs usvhostd: usvhost-bench against one usvhostd,
# each row without a vIOMMU, with one (--iommu=pt: one mapping over guest
# RAM, a guest in passthrough mode) and with one mapping per 4 KiB page
# (--iommu=pages), runs interleaved; writes its section of docs/benchmarks.md
# (between <!-- bench-iommu begin/end -->), the rest of the file stays.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
prog=${0##*/}

usage() {
	cat <<USAGE
Usage: $prog [options]

Starts usvhostd on a FUSE mount in private mount and network namespaces and
runs usvhost-bench against it: TX and RX of 64-byte frames and TX of 1500,
guest RAM memfd and anon, split rings, and TX 64 on packed rings, each with
--iommu=none, pt and pages in turn. Writes a Markdown section (date,
machine, kernel, versions, medians with min and max, ratios to the run
without a vIOMMU, usvhostd's CPU per packet) into --out.

Options:
  --secs=S          seconds per run (default 3)
  --runs=N          runs per figure (default 3)
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

secs=3 runs=3 out=$srcdir/docs/benchmarks.md note=""
builddir=${USVHOST_BUILD_DIR:-$srcdir/build}
while [ $# -gt 0 ]; do
	case $1 in
	--secs=*) secs=${1#*=} ;;
	--runs=*) runs=${1#*=} ;;
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
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
case $out in /*) ;; *) out=$PWD/$out ;; esac
. "$srcdir/scripts/bench-host-lib.sh"
bench_host_binaries "$builddir"

bench_host_enter_ns --secs="$secs" --runs="$runs" --out="$out" --note="$note" \
	--build-dir="$builddir"

# ---- in the private namespaces ---------------------------------------------

bench_host_start_daemon usvhost-bench-iommu

# Rows: test size ram layout.
rows=("tx 64 memfd split" "tx 1500 memfd split" "rx 64 memfd split" "tx 64 anon split"
	"rx 64 anon split" "tx 64 memfd packed")
results=$work/results.jsonl
: >"$results"
total=$((runs * ${#rows[@]} * 3)) n=0
for run in $(seq "$runs"); do
	for row in "${rows[@]}"; do
		read -r test size ram layout <<<"$row"
		for iommu in none pt pages; do
			n=$((n + 1))
			echo "$prog: [$n/$total] run $run: $test $size bytes, $ram, $layout, iommu $iommu" >&2
			bench_host_record $((secs + 30)) "\"row\":\"$row\",\"iommu\":\"$iommu\",\"run\":$run" \
				"\"test\":\"$test\",\"size\":$size" --dev="$mnt/vhost-net" \
				--backend-pid="$dpid" --test="$test" --size="$size" --ram="$ram" \
				--layout="$layout" --iommu="$iommu" --secs="$secs"
		done
	done
done

mkdir -p "$(dirname "$out")"
daemon_version=$("$daemon" --version 2>/dev/null || echo "usvhostd ?")
git_rev=$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo "?")
rows_text=$(printf '%s\n' "${rows[@]}")
export SCRIPTS=$srcdir/scripts RESULTS=$results SECTION=$work/section.md ROWS=$rows_text RUNS=$runs SECS=$secs \
	NOTE=$note DAEMON_VERSION=$daemon_version GIT_REV=$git_rev
python3 - <<'PY'
import datetime, json, os, platform, statistics, sys

sys.path.insert(0, os.environ["SCRIPTS"])
from bench_report import fig, machine, ratio  # noqa: E402

env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"])]
order = [r for r in env["ROWS"].split("\n") if r]


def cell(row, iommu, key="pps"):
    """(median, min, max, runs that failed or whose counters did not match)"""
    mine = [r for r in rows if r["row"] == row and r["iommu"] == iommu and "r" in r]
    bad = sum(1 for r in rows if r["row"] == row and r["iommu"] == iommu and r.get("failed"))
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
    return "-" if c[0] is None else "%.0f" % c[0]


now = datetime.datetime.now(datetime.timezone.utc)
o = []
w = o.append
w("## A guest vIOMMU (device IOTLB) versus none (host, usvhostd)")
w("")
w("Written by `scripts/bench-iommu.sh` between the markers; run it again rather than")
w("editing this part.")
w("")
w("* date: %s" % now.strftime("%Y-%m-%d %H:%M UTC"))
w("* machine: %s" % machine())
w("* kernel: Linux %s (%s)" % (platform.release(), platform.machine()))
w("* versions: %s (default options: FUSE front, profile usvhost), usvhost-bench from"
  % env["DAEMON_VERSION"])
w("  the same tree, git %s" % env["GIT_REV"])
w("* method: %s runs of %s s per figure, interleaved (none, pt, pages for each row in"
  % (env["RUNS"], env["SECS"]))
w("  turn), one usvhostd; median (min-max) of packets per second; ratios of medians to")
w("  the row's run without a vIOMMU; CPU = usvhostd's threads' utime+stime over the")
w("  measure per packet (median); guest driver `--guest=irq`, ring 256, one device.")
w("* the tap's own counters matched usvhost-bench's count in every run, unless a cell")
w("  says otherwise.")
if env.get("NOTE"):
    w("* note: " + env["NOTE"])
w("")
w("none: no ACCESS_PLATFORM, ring and buffer addresses are guest addresses. pt: the")
w("bench acks ACCESS_PLATFORM and IOTLB_MSG_V2 and writes one UPDATE over all guest RAM")
w("before the rings start (a guest in passthrough mode, warm). pages: one UPDATE per 4 KiB")
w("page (hundreds of IOTLB entries, every buffer a lookup among them). Nothing is mapped,")
w("unmapped or missed while measuring: this is the translation's own cost, not a strict")
w("guest's map and unmap per packet (`traffic-viommu.sh` runs such a guest).")
w("")
w("| test | size | RAM | rings | none | pt | pt/none | pages | pages/none "
  "| CPU ns/packet none | pt | pages |")
w("|---|---|---|---|---|---|---|---|---|---|---|---|")
for row in order:
    t, s, ram, layout = row.split()
    c = {m: cell(row, m) for m in ("none", "pt", "pages")}
    w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        t.upper(), s, ram, layout, fig(c["none"]), fig(c["pt"]), ratio(c["pt"], c["none"]),
        fig(c["pages"]), ratio(c["pages"], c["none"]), ns(cell(row, "none", "ns")),
        ns(cell(row, "pt", "ns")), ns(cell(row, "pages", "ns"))))
w("")
w("Command: `sudo scripts/bench-iommu.sh --secs=%s --runs=%s`." % (env["SECS"], env["RUNS"]))
w("")
open(env["SECTION"], "w").write("\n".join(o))
print("\n".join(o))
PY
python3 "$srcdir/scripts/bench-section.py" "$out" bench-iommu <"$work/section.md"
echo "$prog: wrote its section of $out" >&2
