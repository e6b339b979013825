#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel comparison: in one boot of the test VM (Debian's kernel, with
# vhost_net and cuse), usvhost-bench against the kernel's /dev/vhost-net and
# against usvhostd's CUSE node /dev/usvhost-net, interleaved run by run;
# medians with min and max, ratios usvhostd/kernel; a Markdown table and a
# JSON file, and optionally docs/benchmarks.md's VM section.
# Prints figures; not a test, not run in CI.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
prog=${0##*/}

usage() {
	cat <<USAGE
Usage: $prog [options]

Boots the test VM once (scripts/vm-run.sh, docs/testing-vm.md), loads
vhost_net and cuse, starts usvhostd --transport=cuse --name=usvhost-net, and
runs usvhost-bench (tests/vm/t-bench.sh) on /dev/vhost-net (the kernel) and
/dev/usvhost-net (usvhostd) in turn: for every run, RAM and case, the kernel
then usvhostd. Backend CPU: the kernel's vhost-PID worker, usvhostd's threads.
Prints the table, writes it as Markdown and the medians as JSON.

Options:
  --secs=S          seconds per run (default 3)
  --runs=N          runs per figure (default 3)
  --rams="A B"      guest RAM kinds, memfd and/or anon (default "memfd anon")
  --cases="T:S .."  test:size pairs, test tx, rx or rr (default
                    "tx:64 tx:1500 rx:64 rx:1500 rr:64")
  --guest=irq|poll  the guest driver's mode (default irq)
  --devices=N       devices (and taps) per run, in parallel (default 1)
  --iommus="A B"    usvhost-bench --iommu values, each a row of its own:
                    none, pt (a guest vIOMMU, one mapping over guest RAM)
                    and/or pages (one per 4 KiB page) (default "none"); with
                    another than none, --doc replaces the vIOMMU section
  --profile         then, for tx:64 and rx:64 and each RAM kind, one more run
                    with usvhostd under strace -c: its system calls per
                    packet (RESULTS/bench/profile/)
  --results=DIR     the VM's logs and raw results (default
                    BUILD-DIR/bench-vm; emptied first)
  --md=FILE         the Markdown table (default RESULTS/bench-vm.md)
  --json=FILE       the medians and every run as JSON (default
                    RESULTS/bench-vm.json)
  --doc[=FILE]      also replace the VM section of FILE (default
                    SRCDIR/docs/benchmarks.md)
  --note=TEXT       a sentence for the report (what else the machine ran)
  --build-dir=DIR   where usvhostd and usvhost-bench were built (default:
                    \$USVHOST_BUILD_DIR, else SRCDIR/build); not rebuilt
  --timeout=SECS    kill the VM after SECS (default: from the run count)
  --from=DIR        boot nothing: make the report again from the results an
                    earlier run left in DIR (its --results)
  --help            this text

Needs what scripts/vm-run.sh needs (qemu-system-x86, busybox-static, the
kernel package once) and python3; no root on the host. With the defaults
(60 runs of 3 s) it takes 6 to 10 minutes on 2 cores.
USAGE
}

die() {
	echo "$prog: error: $*" >&2
	exit 1
}

secs=3 runs=3 rams="memfd anon" cases="tx:64 tx:1500 rx:64 rx:1500 rr:64" guest=irq devices=1
iommus=none
results="" md="" json="" doc="" note="" timeout="" profile=0 from=""
builddir=${USVHOST_BUILD_DIR:-$srcdir/build}
while [ $# -gt 0 ]; do
	case $1 in
	--secs=*) secs=${1#*=} ;;
	--runs=*) runs=${1#*=} ;;
	--rams=*) rams=${1#*=} ;;
	--cases=*) cases=${1#*=} ;;
	--guest=irq | --guest=poll) guest=${1#*=} ;;
	--devices=*) devices=${1#*=} ;;
	--iommus=*) iommus=${1#*=} ;;
	--profile) profile=1 ;;
	--results=*) results=${1#*=} ;;
	--md=*) md=${1#*=} ;;
	--json=*) json=${1#*=} ;;
	--doc) doc=$srcdir/docs/benchmarks.md ;;
	--doc=*) doc=${1#*=} ;;
	--note=*) note=${1#*=} ;;
	--build-dir=*) builddir=${1#*=} ;;
	--timeout=*) timeout=${1#*=} ;;
	--from=*) from=${1#*=} ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	shift
done
if [ -n "$from" ]; then
	if ! [ -s "$from/bench.env" ] || ! [ -s "$from/bench/results.jsonl" ]; then
		die "$from has no results of scripts/bench-vm.sh (bench.env, bench/results.jsonl)"
	fi
	# What that run was asked for.
	# shellcheck disable=SC1091
	. "$from/bench.env"
	secs=$BENCH_SECS runs=$BENCH_RUNS rams=$BENCH_RAMS cases=$BENCH_CASES guest=$BENCH_GUEST
	devices=${BENCH_DEVICES:-1} iommus=${BENCH_IOMMUS:-none} results=$from
fi
case $secs in '' | *[!0-9]* | 0) die "--secs wants a positive number" ;; esac
case $runs in '' | *[!0-9]* | 0) die "--runs wants a positive number" ;; esac
case $devices in '' | *[!0-9]* | 0) die "--devices wants a positive number" ;; esac
[ -n "$rams" ] || die "--rams is empty"
for r in $rams; do
	case $r in memfd | anon) ;; *) die "--rams: memfd or anon, not '$r'" ;; esac
done
[ -n "$iommus" ] || die "--iommus is empty"
for i in $iommus; do
	case $i in none | pt | pages) ;; *) die "--iommus: none, pt or pages, not '$i'" ;; esac
done
[ -n "$cases" ] || die "--cases is empty"
for c in $cases; do
	case $c in
	tx:[0-9]* | rx:[0-9]* | rr:[0-9]*)
		case ${c#*:} in *[!0-9]*) die "--cases: '$c' is not TEST:SIZE" ;; esac
		;;
	*) die "--cases: '$c' is not TEST:SIZE (tx, rx or rr)" ;;
	esac
done
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac }
builddir=$(abspath "$builddir")
if ! [ -x "$builddir/src/usvhostd" ] || ! [ -x "$builddir/src/usvhost-bench" ]; then
	die "$builddir/src/usvhostd or usvhost-bench missing: build first (or --build-dir=DIR)"
fi
command -v python3 >/dev/null || die "needs python3 (the report)"
results=$(abspath "${results:-$builddir/bench-vm}")
md=$(abspath "${md:-$results/bench-vm.md}")
json=$(abspath "${json:-$results/bench-vm.json}")
[ -z "$doc" ] || doc=$(abspath "$doc")
nruns=$((runs * $(wc -w <<<"$rams") * $(wc -w <<<"$cases") * $(wc -w <<<"$iommus") * 2))
# Each run: its seconds, set-up and teardown under TCG (a few s), the drain;
# a profile is one more run per RAM kind and case (and strace's slowness).
[ "$profile" = 0 ] || nruns=$((nruns + 4 * $(wc -w <<<"$rams")))
: "${timeout:=$((180 + nruns * (secs + 15)))}"
case $timeout in '' | *[!0-9]*) die "--timeout takes seconds" ;; esac

# Boot the VM and run tests/vm/t-bench.sh in it; sets elapsed.
run_vm() {
	local t0=$SECONDS rc=0
	rm -rf "$results"
	mkdir -p "$results"
	{
		printf 'BENCH_SECS=%q\nBENCH_RUNS=%q\nBENCH_RAMS=%q\nBENCH_CASES=%q\nBENCH_GUEST=%q\n' \
			"$secs" "$runs" "$rams" "$cases" "$guest"
		printf 'BENCH_DEVICES=%q\nBENCH_PROFILE=%q\nBENCH_IOMMUS=%q\n' "$devices" "$profile" \
			"$iommus"
	} >"$results/bench.env"
	echo "$prog: $nruns runs of $secs s in the VM (bounded by $timeout s); logs in $results" >&2
	"$srcdir/scripts/vm-run.sh" --no-build --build-dir="$builddir" --results="$results" \
		--timeout="$timeout" --quiet bench >"$results/vm-run.out" 2>&1 || rc=$?
	grep -a '^\[vm:bench\]' "$results/bench.log" 2>/dev/null | sed 's/^\[vm:bench\] /  /' >&2 || true
	if [ ! -s "$results/bench/results.jsonl" ]; then
		cat "$results/vm-run.out" >&2
		die "the VM produced no results (vm-run.sh exit $rc)"
	fi
	[ "$rc" = 0 ] ||
		echo "$prog: warning: vm-run.sh exit $rc (some runs failed: see $results/bench/notes.txt)" >&2
	elapsed=$((SECONDS - t0))
	# When it ended and how busy the host was then, for --from.
	printf 'run_date=%q\nhost_load=%q\nelapsed=%q\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
		"$(cut -d' ' -f1-3 /proc/loadavg)" "$elapsed" >"$results/host.env"
}

run_date="" host_load="" elapsed=""
[ -n "$from" ] || run_vm
if [ -f "$results/host.env" ]; then
	# shellcheck disable=SC1091
	. "$results/host.env"
else
	run_date="$(date -u -r "$results/bench/results.jsonl" '+%Y-%m-%d %H:%M UTC')"
	host_load="not recorded"
	elapsed=$(sed -n 's/^bench .*(\([0-9]*\) s)$/\1/p' "$results/summary" 2>/dev/null)
fi

host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
host_mem=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
qemu_version=$(qemu-system-x86_64 --version | head -n 1)
git_rev=$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo "?")
host_nproc=$(nproc) host_kernel=$(uname -r)
# shellcheck disable=SC1091
. "$results/bench/vm.env"
export RESULTS=$results/bench/results.jsonl MD=$md JSON=$json RUNS=$runs SECS=$secs \
	GUEST=$guest DEVICES=$devices RAMS=$rams CASES=$cases IOMMUS=$iommus NOTE=$note \
	GIT_REV=$git_rev \
	HOST_CPU=$host_cpu HOST_NPROC=$host_nproc HOST_MEM=$host_mem HOST_KERNEL=$host_kernel \
	HOST_LOAD=$host_load RUN_DATE=$run_date QEMU_VERSION=$qemu_version \
	VM_KERNEL VM_CPUS VM_MEM_MIB VM_DAEMON_VERSION ELAPSED=${elapsed:-0}
python3 - <<'PY'
import datetime, json, os, statistics

env = os.environ
runs = [json.loads(l) for l in open(env["RESULTS"])]
rams = env["RAMS"].split()
cases = [(c.split(":")[0], int(c.split(":")[1])) for c in env["CASES"].split()]
iommus = env["IOMMUS"].split()
viommu = iommus != ["none"]


def pick(backend, ram, iommu, test, size):
    ok = [r["r"] for r in runs if r["backend"] == backend and "r" in r and
          (r["r"]["ram"], r["r"].get("iommu", "none"), r["r"]["test"], r["r"]["size"]) ==
          (ram, iommu, test, size)]
    bad = sum(1 for r in runs if r["backend"] == backend and r.get("failed") and
              (r["ram"], r.get("iommu", "none"), r["test"], r["size"]) ==
              (ram, iommu, test, size))
    bad += sum(1 for r in ok if not r["match"])
    return ok, bad


def stat(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def us_per_pkt(r):
    b = r.get("backend")
    return b["ns_per_packet"] / 1e3 if b and r["packets"] else None


cells = []
for ram, (test, size), iommu in [(r, c, i) for r in rams for c in cases for i in iommus]:
    c = {"ram": ram, "iommu": iommu, "test": test, "size": size}
    for be in ("kernel", "usvhostd"):
        ok, bad = pick(be, ram, iommu, test, size)
        c[be] = {"pps": stat([r["pps"] for r in ok]),
                 "cpu_us_per_packet": stat([us_per_pkt(r) for r in ok]),
                 "bad_runs": bad}
        if test == "rr":
            c[be]["p50_us"] = stat([r.get("p50_us") for r in ok])
            c[be]["p99_us"] = stat([r.get("p99_us") for r in ok])
    cells.append(c)


def med(c, be, key):
    s = c[be].get(key)
    return s["median"] if s else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fpps(x):
    if x is None:
        return "failed"
    return "%.2f Mpps" % (x / 1e6) if x >= 1e6 else "%.1f kpps" % (x / 1e3)


def frate(x):
    return "-" if x is None else "%.0f" % x


def fig(s, f):
    if not s:
        return "failed"
    return "%s (%s-%s)" % (f(s["median"]), f(s["min"]), f(s["max"]))


def fus(x):
    return "%.1f" % x if x < 100 else "%.0f" % x


def fr(x):
    return "-" if x is None else "%.2f" % x


def flag(c, be):
    n = c[be]["bad_runs"]
    return " **%d bad**" % n if n else ""


now = datetime.datetime.now(datetime.timezone.utc)
o = []
w = o.append
w("## VM: the kernel's vhost_net versus usvhostd's CUSE node%s"
  % (", behind a guest vIOMMU" if viommu else ""))
w("")
w("Written by `scripts/bench-vm.sh` between the markers; run it again (`--doc`) rather than")
w("editing this part.")
w("")
w("* date: %s" % env["RUN_DATE"])
w("* host: %s, %s CPUs, %s MiB RAM, Linux %s;" % (env["HOST_CPU"], env["HOST_NPROC"],
                                                  env["HOST_MEM"], env["HOST_KERNEL"]))
w("  %s; load average at the end %s" % (env["QEMU_VERSION"], env["HOST_LOAD"]))
w("* VM: the test VM of [testing-vm.md](testing-vm.md), Debian's Linux %s under TCG"
  % env["VM_KERNEL"])
w("  (`-accel tcg -cpu max`),")
w("  %s vCPUs, %s MiB; absolute figures are those of an emulated CPU, only the ratios"
  % (env["VM_CPUS"], env["VM_MEM_MIB"]))
w("  (same boot, same client, runs interleaved) mean something")
w("* versions: %s (CUSE front, `--name=usvhost-net`, default options), git %s"
  % (env["VM_DAEMON_VERSION"], env["GIT_REV"]))
w("* method: %s runs of %s s per figure; for every run, RAM kind and case the kernel, then"
  % (env["RUNS"], env["SECS"]))
w("  usvhostd (k, u, k, u, ...); median (min-max); ratios of medians, usvhostd / kernel;")
w("  guest driver `--guest=%s`, ring 256, %s device(s) per run. CPU = the backend's utime+stime"
  % (env["GUEST"], env["DEVICES"]))
w("  over the measure (the kernel's `vhost-PID` worker threads, usvhostd's threads) divided")
w("  by the packets counted. %d s in all." % int(env["ELAPSED"]))
w("* the tap's own counters matched usvhost-bench's count in every run unless a cell says")
w("  `bad` (a run that failed or did not match).")
if env.get("NOTE"):
    w("* note: " + env["NOTE"])
w("")
if viommu:
    w("vIOMMU: `usvhost-bench --iommu`, the same for both backends: none, or ACCESS_PLATFORM")
    w("and IOTLB_MSG_V2 acked and the device IOTLB filled before the rings start, with one")
    w("mapping over guest RAM (pt, a guest in passthrough mode) or one per 4 KiB page")
    w("(pages); ring and buffer addresses are then IOVAs.")
    w("")
# The vIOMMU column, only when some run had one.
vhead, vsep = ("vIOMMU | ", "---|") if viommu else ("", "")


def vcol(c):
    return c["iommu"] + " | " if viommu else ""


w("| RAM | %stest | size | kernel | usvhostd | pps ratio | CPU µs/packet, kernel "
  "| CPU µs/packet, usvhostd | CPU ratio |" % vhead)
w("|---|---|---|---|---|---|---|---|---|%s" % vsep)
for c in cells:
    if c["test"] == "rr":
        continue
    w("| %s | %s%s | %d | %s%s | %s%s | %s | %s | %s | %s |" % (
        c["ram"], vcol(c), c["test"].upper(), c["size"],
        fig(c["kernel"]["pps"], fpps), flag(c, "kernel"),
        fig(c["usvhostd"]["pps"], fpps), flag(c, "usvhostd"),
        fr(ratio(med(c, "usvhostd", "pps"), med(c, "kernel", "pps"))),
        fig(c["kernel"]["cpu_us_per_packet"], fus),
        fig(c["usvhostd"]["cpu_us_per_packet"], fus),
        fr(ratio(med(c, "usvhostd", "cpu_us_per_packet"), med(c, "kernel", "cpu_us_per_packet")))))
rr = [c for c in cells if c["test"] == "rr"]
if rr:
    w("")
    w("Request/response (one frame out, echoed back by the host side, the next one sent when")
    w("it is back), latency in µs:")
    w("")
    w("| RAM | %ssize | kernel p50 | usvhostd p50 | ratio | kernel p99 | usvhostd p99 "
      "| ratio | round trips/s, kernel | usvhostd |" % vhead)
    w("|---|---|---|---|---|---|---|---|---|---|%s" % vsep)
    for c in rr:
        w("| %s | %s%d | %s%s | %s%s | %s | %s | %s | %s | %s | %s |" % (
            c["ram"], vcol(c), c["size"], fig(c["kernel"]["p50_us"], fus), flag(c, "kernel"),
            fig(c["usvhostd"]["p50_us"], fus), flag(c, "usvhostd"),
            fr(ratio(med(c, "usvhostd", "p50_us"), med(c, "kernel", "p50_us"))),
            fig(c["kernel"]["p99_us"], fus), fig(c["usvhostd"]["p99_us"], fus),
            fr(ratio(med(c, "usvhostd", "p99_us"), med(c, "kernel", "p99_us"))),
            frate(med(c, "kernel", "pps")), frate(med(c, "usvhostd", "pps"))))
w("")
w("Command: `scripts/bench-vm.sh --secs=%s --runs=%s --guest=%s --devices=%s --rams=\"%s\" "
  "--cases=\"%s\"%s --doc`." % (env["SECS"], env["RUNS"], env["GUEST"], env["DEVICES"],
                                env["RAMS"], env["CASES"],
                                (" --iommus=\"%s\"" % env["IOMMUS"]) if viommu else ""))
text = "\n".join(o)
open(env["MD"], "w").write(text + "\n")
meta = {k.lower(): env[k] for k in ("HOST_CPU", "HOST_NPROC", "HOST_MEM", "HOST_KERNEL",
                                    "HOST_LOAD", "QEMU_VERSION", "VM_KERNEL", "VM_CPUS",
                                    "VM_MEM_MIB", "VM_DAEMON_VERSION", "GIT_REV", "SECS",
                                    "RUNS", "GUEST", "DEVICES", "IOMMUS", "NOTE")}
meta["date"] = now.isoformat(timespec="seconds")
json.dump({"meta": meta, "cells": cells, "runs": runs}, open(env["JSON"], "w"), indent=1)
print(text)
PY
if [ -n "$doc" ]; then
	# A vIOMMU run has its own section: the plain comparison stays.
	section=bench-vm
	[ "$iommus" = none ] || section=bench-vm-iommu
	python3 "$srcdir/scripts/bench-section.py" "$doc" "$section" <"$md"
	echo "$prog: updated the $section section of $doc" >&2
fi
echo "$prog: wrote $md and $json" >&2
