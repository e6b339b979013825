#!/usr/bin/env bash
# Draws a usvhostd trace as a PNG (docs/trace-qemu-boot.png comes from a
# trace of tests/e2e/trace-qemu.sh's first boot): on top, each ioctl as a tick
# on its caller's thread and each ring's attach..detach as a bar; below, every
# ioctl's latency over time. It reads usvhost-trace export's Perfetto JSON,
# so it shows what Perfetto UI would. Needs jq and gnuplot (gnuplot-nox); not
# part of the tests.
#   scripts/plot-trace.sh TRACE OUT.png [TITLE]
# docs/trace-qemu-boot.png: E2E_KEEP_LOGS=DIR tests/e2e/trace-qemu.sh, then
#   scripts/plot-trace.sh DIR/default/trace.json docs/trace-qemu-boot.png "..."
set -eu

[ $# -ge 2 ] || { echo "usage: $0 TRACE OUT.png [TITLE]" >&2; exit 2; }
trace=$1 out=$2 title=${3:-usvhostd trace}
here=$(cd "$(dirname "$0")/.." && pwd)
: "${TRACE_TOOL:=$(command -v usvhost-trace || echo "$here/build/src/usvhost-trace")}"
for t in jq gnuplot; do
	command -v "$t" >/dev/null || { echo "$0: $t missing (apt-get install jq gnuplot-nox)" >&2; exit 2; }
done
[ -x "$TRACE_TOOL" ] || { echo "$0: $TRACE_TOOL missing (build, or set TRACE_TOOL)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TRACE_TOOL" export --format=perfetto -o "$tmp/export.json" "$trace"

# One row per caller thread, then one per ring; gnuplot gets row numbers.
jq -r '
  .traceEvents as $ev
  | ([$ev[] | select(.ph == "M") | {key: "\(.pid)/\(.tid)/\(.name)", value: .args.name}]
     | from_entries) as $n
  | ([$ev[] | select(.ph == "X") | "\(.pid)/\(.tid)"] | unique) as $threads
  | ([$ev[] | select(.ph == "b") | "\(.id) \(.name)"] | unique) as $rings
  | ($threads | to_entries[]
     | (.value | split("/")) as [$p, $t]
     | ($n["\($p)/0/process_name"] // $p) as $pn
     | ($n["\($p)/\($t)/thread_name"] // $pn) as $tn
     | "\(.key) \"\($pn)\(if $tn == $pn then "" else ": \($tn)" end) [\($t)]\""),
    ($rings | to_entries[]
     | "\(.key + ($threads | length)) \"\(.value | sub("^dev(?<d>[0-9]+)\\.vq[0-9]+ "; "dev \(.d) "))\"")
' "$tmp/export.json" >"$tmp/rows"
jq -r '
  .traceEvents as $ev
  | ([$ev[] | select(.ph == "X") | "\(.pid)/\(.tid)"] | unique) as $threads
  | $ev[] | select(.ph == "X") | "\(.pid)/\(.tid)" as $k
  | "\(.ts / 1e6) \($threads | index($k)) \(.dur) \(if .args.ret == 0 then 0 else 1 end) \(.name)"
' "$tmp/export.json" >"$tmp/ioctls"
jq -r '
  .traceEvents as $ev
  | ([$ev[] | select(.ph == "X") | "\(.pid)/\(.tid)"] | unique | length) as $nt
  | ([$ev[] | select(.ph == "b") | "\(.id) \(.name)"] | unique) as $rings
  | [$ev[] | select(.ph == "b" or .ph == "e")] | group_by(.id)[]
  | . as $spans | range(0; length; 2) as $i
  | select($spans[$i + 1]) | "\($spans[$i].id) \($spans[$i].name)" as $k
  | "\($spans[$i].ts / 1e6) \($spans[$i + 1].ts / 1e6) \($nt + ($rings | index($k)))"
' "$tmp/export.json" >"$tmp/spans"

nrows=$(wc -l <"$tmp/rows")
ytics=$(awk '{ i = $1; $1 = ""; sub(/^ /, ""); printf "%s%s %d", (NR > 1 ? ", " : ""), $0, i }' "$tmp/rows")
gnuplot <<GP
set terminal pngcairo size 1100,$((300 + 28 * nrows)) font "DejaVu Sans,10" noenhanced
set output "$out"
set multiplot layout 2,1 title "$title"
set lmargin 36
set rmargin 3
set ytics ($ytics)
set yrange [-0.7:$nrows - 0.3]
set grid xtics
set key below horizontal
unset ylabel
plot "$tmp/spans" using 1:3:(\$2 - \$1):(0) with vectors nohead lw 12 lc rgb "#9ecae1" title "ring attached (attach..detach)", \
     "$tmp/ioctls" using 1:(\$4 == 0 ? \$2 : 1/0) with points pt 7 ps 0.5 lc rgb "#08519c" title "ioctl", \
     "$tmp/ioctls" using 1:(\$4 == 1 ? \$2 : 1/0) with points pt 7 ps 0.7 lc rgb "#cb181d" title "ioctl that failed"
set ytics auto
set yrange [*:*]
set logscale y
set ylabel "latency (us)"
set xlabel "seconds since the trace began"
set format y "%g"
plot "$tmp/ioctls" using 1:(\$3 > 0 ? \$3 : 1/0) with points pt 7 ps 0.5 lc rgb "#08519c" title "ioctl latency in usvhostd"
unset multiplot
GP
echo "$out: $(stat -c %s "$out") bytes"
