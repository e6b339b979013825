#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Scale on the host: what 32 attached idle devices cost usvhostd (CPU as a
# share of one core, against the target of under 0.1 %), then TX 1500 bytes
# and RX 64 bytes with shared memfd RAM on 1, 2, 4 and 8 devices at once, N
# runs of each (interleaved), median with min and max of the aggregate pps
# and of usvhostd's CPU per packet, and the ratios to one device; writes its
# section of docs/benchmarks.md.
# Prints figures; not a test, not run in CI.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
prog=${0##*/}

usage() {
	cat <<USAGE
Usage: $prog [options]

Starts usvhostd on a FUSE mount in private mount and network namespaces.
First usvhost-bench --test=idle: --idle-devices devices set up (memory table,
rings, a tap attached, the guest's RX buffers posted) and nothing sent for
--idle-secs; usvhostd's CPU time over that window, as a share of one core,
is compared with the target (under 0.1 %). Then TX 1500-byte and RX 64-byte
frames with memfd guest RAM on each of --devices devices at once, --runs runs
of each, interleaved: the aggregate packets per second and usvhostd's CPU per
packet, median (min-max), and their ratios to one device. Writes a Markdown
report (date, machine, kernel, versions) as its section of the --out file;
the rest of that file stays.

Options:
  --secs=S            seconds per throughput run (default 3)
  --runs=N            runs per throughput figure (default 3)
  --devices="A B .."  device counts (default "1 2 4 8")
  --idle-devices=N    idle devices (default 32)
  --idle-secs=S       seconds of the idle window (default 30)
  --guest=irq|poll    the guest driver's mode (default irq)
  --out=FILE          the report (default SRCDIR/docs/benchmarks.md)
  --note=TEXT         a sentence for the report (what else the machine ran)
  --build-dir=DIR     where usvhostd and usvhost-bench were built (default:
                      SRCDIR/build, or \$USVHOST_BUILD_DIR)
  --help              this text

Needs root, /dev/fuse, /dev/net/tun, unshare(1) and python3.
USAGE
}

die() {
	echo "$prog: error: $*" >&2
	exit 1
}

secs=3 runs=3 devices="1 2 4 8" idle_devices=32 idle_secs=30 guest=irq
out=$srcdir/docs/benchmarks.md note=""
builddir=${USVHOST_BUILD_DIR:-$srcdir/build}
while [ $# -gt 0 ]; do
	case $1 in
	--secs=*) secs=${1#*=} ;;
	--runs=*) runs=${1#*=} ;;
	--devices=*) devices=${1#*=} ;;
	--idle-devices=*) idle_devices=${1#*=} ;;
	--idle-secs=*) idle_secs=${1#*=} ;;
	--guest=irq | --guest=poll) guest=${1#*=} ;;
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
for v in "$secs" "$runs" "$idle_devices" "$idle_secs"; do
	case $v in '' | *[!0-9]* | 0) die "--secs, --runs, --idle-devices and --idle-secs want positive numbers" ;; esac
done
[ -n "$devices" ] || die "--devices wants numbers"
for n in $devices; do
	case $n in '' | *[!0-9]* | 0) die "--devices wants positive numbers" ;; esac
done
case " $devices " in *" 1 "*) ;; *) die "--devices must include 1 (the ratios are to one device)" ;; esac
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
case $out in /*) ;; *) out=$PWD/$out ;; esac
. "$srcdir/scripts/bench-host-lib.sh"
bench_host_binaries "$builddir"

bench_host_enter_ns --secs="$secs" --runs="$runs" --devices="$devices" \
	--idle-devices="$idle_devices" --idle-secs="$idle_secs" --guest="$guest" --out="$out" \
	--note="$note" --build-dir="$builddir"

# ---- in the private namespaces ---------------------------------------------

bench_host_start_daemon usvhost-bench-scale

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
results=$work/results.jsonl
: >"$results"

# (a) idle devices. Halfway through, usvhostd's threads and resident memory
# (what the devices hold while they sit there).
echo "$prog: idle: $idle_devices devices for $idle_secs s" >&2
(
	sleep $((idle_secs / 2 + 1))
	awk '/^Threads:/ { print "threads=" $2 } /^VmRSS:/ { print "rss_kib=" $2 }' "/proc/$dpid/status"
) >"$work/idle-daemon" &
probe=$!
rc=0
line=$(timeout -s KILL $((idle_secs + 60)) "$bench" --dev="$mnt/vhost-net" --test=idle \
	--devices="$idle_devices" --secs="$idle_secs" --backend-pid="$dpid" --json) || rc=$?
wait "$probe" || true
case $line in
'{'*) echo "{\"cfg\":\"idle\",\"r\":$line}" >>"$results" ;;
*) echo "$prog: the idle run failed (exit $rc)" >&2 ;;
esac
idle_threads=$(sed -n 's/^threads=//p' "$work/idle-daemon")
idle_rss=$(sed -n 's/^rss_kib=//p' "$work/idle-daemon")
base_threads=$(awk '/^Threads:/ { print $2 }' "/proc/$dpid/status")
base_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$dpid/status")

# (b) several devices at once.
total=$((runs * 2 * $(wc -w <<<"$devices"))) n=0
for run in $(seq "$runs"); do
	for test in tx rx; do
		size=1500
		[ "$test" = rx ] && size=64
		for nd in $devices; do
			n=$((n + 1))
			echo "$prog: [$n/$total] run $run: $test $size bytes, $nd device(s)" >&2
			bench_host_record $((secs + 60)) "\"cfg\":\"scale\",\"run\":$run" \
				"\"test\":\"$test\",\"devices\":$nd" --dev="$mnt/vhost-net" --ram=memfd \
				--backend-pid="$dpid" --test="$test" --size="$size" --devices="$nd" \
				--guest="$guest" --secs="$secs"
		done
	done
done

mkdir -p "$(dirname "$out")"
daemon_version=$("$daemon" --version 2>/dev/null || echo "usvhostd ?")
git_rev=$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo "?")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
export RESULTS=$results SECTION=$work/section.md DEVICES=$devices RUNS=$runs SECS=$secs \
	IDLE_DEVICES=$idle_devices IDLE_SECS=$idle_secs GUEST=$guest NOTE=$note \
	DAEMON_VERSION=$daemon_version GIT_REV=$git_rev LOAD_START=$load_start \
	LOAD_END=$load_end ELAPSED=$(($(date +%s) - t_start)) \
	IDLE_THREADS=${idle_threads:-?} IDLE_RSS=${idle_rss:-?} BASE_THREADS=${base_threads:-?} \
	BASE_RSS=${base_rss:-?}
python3 - <<'PY'
import datetime, json, os, platform, statistics

env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"])]
counts = [int(n) for n in env["DEVICES"].split()]
SIZE = {"tx": 1500, "rx": 64}


def cell(test, nd, key):
    """(median, min, max, runs that failed or whose counters did not match)"""
    mine = [r for r in rows if r["cfg"] == "scale" and "r" in r and
            (r["r"]["test"], r["r"]["devices"]) == (test, nd)]
    bad = sum(1 for r in rows if r["cfg"] == "scale" and r.get("failed") and
              (r["test"], r["devices"]) == (test, nd))
    bad += sum(1 for r in mine if not r["r"]["match"])
    if key == "ns":
        v = [(r["r"]["backend"] or {}).get("ns_per_packet") for r in mine]
    elif key == "cores":
        v = [r["r"]["backend"]["cpu_s"] / r["r"]["secs"] for r in mine if r["r"]["backend"]]
    else:
        v = [r["r"][key] for r in mine]
    v = [x for x in v if x is not None]
    if not v:
        return (None, None, None, bad)
    return (statistics.median(v), min(v), max(v), bad)


def pps(x):
    if x >= 1e6:
        return "%.2f Mpps" % (x / 1e6)
    return "%.0f kpps" % (x / 1e3)


def fig(c, f):
    m, lo, hi, bad = c
    if m is None:
        return "failed"
    s = "%s (%s-%s)" % (f(m), f(lo), f(hi))
    return s + (" **%d run(s) failed or mismatched**" % bad if bad else "")


def ratio(a, b):
    if a[0] is None or not b[0]:
        return "-"
    return "%.2f" % (a[0] / b[0])


cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem_kib = int(open("/proc/meminfo").readline().split()[1])
now = datetime.datetime.now(datetime.timezone.utc)
idle = [r["r"] for r in rows if r["cfg"] == "idle"]
o = []
w = o.append
w("## Scale: idle devices and several at once")
w("")
w("Written by `scripts/bench-scale.sh` between the markers; run it again rather than")
w("editing this part.")
w("")
w("* date: %s" % now.strftime("%Y-%m-%d %H:%M UTC"))
w("* machine: %s, %d CPUs, %d MiB RAM; load average %s at the start, %s at the end"
  % (cpu, os.cpu_count(), mem_kib // 1024, env["LOAD_START"], env["LOAD_END"]))
w("* kernel: Linux %s (%s)" % (platform.release(), platform.machine()))
w("* versions: %s (default options: FUSE front, one worker thread per device),"
  % env["DAEMON_VERSION"])
w("  usvhost-bench from the same tree, git %s" % env["GIT_REV"])
w("* method: idle, one run of `--test=idle`; then %s runs of %s s per figure, interleaved"
  % (env["RUNS"], env["SECS"]))
w("  (TX then RX, each device count in turn); median (min-max); guest driver")
w("  `--guest=%s`, ring 256, memfd guest RAM, one guest thread and one host-side thread"
  % env["GUEST"])
w("  per device in usvhost-bench. %s s in all." % env["ELAPSED"])
w("* the tap's own counters matched usvhost-bench's count in every run, unless a cell")
w("  says otherwise.")
if env.get("NOTE"):
    w("* note: " + env["NOTE"])
w("")
w("### %s idle devices" % env["IDLE_DEVICES"])
w("")
w("Each device attached as QEMU attaches it (owner, memory table, both rings with their")
w("eventfds, a tap on both) with the guest's RX buffers posted, then nothing sent for")
w("%s s. usvhostd's CPU is the run time of all its threads over the window (schedstat," % env["IDLE_SECS"])
w("in nanoseconds). Target: under 0.1 % of one core.")
w("")
if idle:
    r = idle[0]
    b = r["backend"]
    w("| devices | window | usvhostd CPU | % of one core | per device | target | moved |")
    w("|---|---|---|---|---|---|---|")
    if b:
        w("| %d | %.1f s | %.3f ms | %.4f %% | %.4f ms | < 0.1 %%: %s | %d used, %d+%d tap frames |"
          % (r["devices"], r["secs"], b["cpu_ms"], b["core_pct"], b["per_device_ms"],
             "met" if b["core_pct"] < 0.1 else "**missed**", r["used"], r["tap_in"],
             r["tap_out"]))
    else:
        w("| %d | %.1f s | unknown | - | - | - | %d used |" % (r["devices"], r["secs"], r["used"]))
    w("")
    w("usvhostd had %s threads and %s KiB resident while the %s devices were attached, %s"
      % (env["IDLE_THREADS"], env["IDLE_RSS"], env["IDLE_DEVICES"], env["BASE_THREADS"]))
    w("threads and %s KiB after they were gone." % env["BASE_RSS"])
else:
    w("The idle run failed: no figure.")
w("")
w("### Several devices at once")
w("")
w("N devices, each with its own tap, all moving at once; pps is the sum over the devices,")
w("CPU per packet is usvhostd's (all its threads) divided by all the packets, and cores")
w("busy its CPU time divided by the seconds measured. Ratios are medians to the median of")
w("one device.")
w("")
w("| test | size | devices | aggregate pps | ratio to 1 | usvhostd CPU ns/packet | ratio to 1 "
  "| usvhostd cores busy |")
w("|---|---|---|---|---|---|---|---|")
for t in ("tx", "rx"):
    one_p, one_c = cell(t, 1, "pps"), cell(t, 1, "ns")
    for nd in counts:
        p, c = cell(t, nd, "pps"), cell(t, nd, "ns")
        w("| %s | %d | %d | %s | %s | %s | %s | %s |" % (
            t.upper(), SIZE[t], nd, fig(p, pps), ratio(p, one_p),
            fig(c, lambda x: "%.0f" % x), ratio(c, one_c),
            fig(cell(t, nd, "cores"), lambda x: "%.2f" % x)))
w("")
w("What bounds these figures: the machine's %d CPUs. usvhostd gives every device its own" % os.cpu_count())
w("worker thread (the kernel's shape), and usvhost-bench runs a guest thread and a host-side")
w("thread per device, so N active devices are 3N busy threads on %d cores: past one device"
  % os.cpu_count())
w("the aggregate can only grow where one device left a core idle, and the CPU per packet")
w("grows with the contention (wake-ups, migrations, cache). On a machine with a core per")
w("thread the ratio to one device would be the figure to watch; here it says whether")
w("several devices share the cores without collapsing.")
w("")
w("Command: `sudo scripts/bench-scale.sh --secs=%s --runs=%s --devices=\"%s\" "
  "--idle-devices=%s --idle-secs=%s --guest=%s`."
  % (env["SECS"], env["RUNS"], env["DEVICES"], env["IDLE_DEVICES"], env["IDLE_SECS"],
     env["GUEST"]))
w("")
open(env["SECTION"], "w").write("\n".join(o))
print("\n".join(o))
PY
# Only this script's section of the report: the rest stays.
python3 "$srcdir/scripts/bench-section.py" "$out" bench-scale <"$work/section.md"
echo "$prog: wrote its section of $out" >&2
