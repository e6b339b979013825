#!/usr/bin/env bash
# Throughput of one guest's TCP transfers through usvhostd (vhost=on) and
# through QEMU's own userspace virtio-net (vhost=off), in one run, with
# usvhostd's CPU time per GB moved. Prints figures; not a test.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
prog=${0##*/}

usage() {
	cat <<EOF
Usage: $prog [options]

Boots the e2e guest (Debian kernel, busybox, unmodified QEMU under TCG) twice
on a tap in a private network namespace:
  vhost=on   -netdev tap,...,vhost=on,vhostfd=N: usvhostd moves the packets
  vhost=off  QEMU's own userspace virtio-net moves them
Each time the guest sends SIZE MiB of random data to the host (guest->host),
then receives SIZE MiB from it (host->guest), over TCP with busybox nc; both
ends compare sha256. Prints each direction's throughput (MB/s, timed in the
guest), the ratio on/off, and usvhostd's CPU time (user+sys, from
/proc/PID/stat) per GB moved. The vhost=on run also checks that the bytes
really went through usvhostd (its counters, QEMU's trace and stderr).

Options:
  --size=MIB        data per direction (default 256)
  --ram=anon|memfd  guest RAM: anonymous (usvhostd uses /proc/PID/mem) or a
                    shared memfd (usvhostd maps it). Default: anon
  --only=on|off     run one of the two
  --timeout=SECS    bound on one transfer (default 120); a transfer that does
                    not finish is reported as a stall (QEMU's own vhost=off
                    path sometimes stalls guest->host under TCG)
  --build-dir=DIR   where usvhostd was built (default: SRCDIR/build, or
                    \$USVHOST_BUILD_DIR)
  --keep-logs=DIR   keep the daemon log, QEMU stderr/trace, consoles in DIR
  --help            this text

Needs root, /dev/fuse, /dev/net/tun, qemu-system-x86_64, busybox-static and a
built usvhostd (scripts/run-guest.sh builds one). Everything stays in private
mount and network namespaces.
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }

size=256 ram=anon only="" xfer_timeout=120 keep_logs=""
builddir=${USVHOST_BUILD_DIR:-$srcdir/build}
while [ $# -gt 0 ]; do
	case $1 in
	--size=*) size=${1#*=} ;;
	--ram=anon|--ram=memfd) ram=${1#*=} ;;
	--only=on|--only=off) only=${1#*=} ;;
	--timeout=*) xfer_timeout=${1#*=} ;;
	--build-dir=*) builddir=${1#*=} ;;
	--keep-logs=*) keep_logs=${1#*=} ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	shift
done
case $size in ''|*[!0-9]*|0) die "--size wants a positive number of MiB" ;; esac
case $xfer_timeout in ''|*[!0-9]*|0) die "--timeout wants a positive number of seconds" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (FUSE mount, tap device, namespaces); try: sudo $0"
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
case $keep_logs in ''|/*) ;; *) keep_logs=$PWD/$keep_logs ;; esac
[ "$only" = off ] || [ -x "$builddir/src/usvhostd" ] ||
	die "$builddir/src/usvhostd missing: build first (or --build-dir=DIR)"

export top_srcdir=$srcdir top_builddir=$builddir E2E_NAME=$prog
export USVHOST_E2E_REQUIRE=1 # for a user, a missing prerequisite is an error
# The guest holds SIZE MiB in its tmpfs (at most half its RAM).
export E2E_MEM=$((2 * size + 256))M
export E2E_QEMU_TIMEOUT=$((2 * xfer_timeout + 120))
. "$srcdir/tests/lib/e2e-lib.sh"
e2e_require_host
e2e_guest_kernel
ns_args=(--size="$size" --ram="$ram" --timeout="$xfer_timeout" --build-dir="$builddir")
[ -z "$only" ] || ns_args+=(--only="$only")
[ -z "$keep_logs" ] || ns_args+=(--keep-logs="$keep_logs")
e2e_enter_namespaces "${ns_args[@]}"

# ---- in the private namespaces ---------------------------------------------

E2E_KEEP_LOGS=$keep_logs
e2e_setup

# Both directions are attempted even if the first one fails.
cat >"$E2E_DIR/guest.sh" <<GUEST
. /usvhost/guest-lib.sh
GUEST_XFER_TIMEOUT=$xfer_timeout GUEST_MARKS=1
guest_net_up 10.0.77.2/24 || exit 1
guest_ping_host || exit 1
guest_wait_pinged 3 20 || exit 1
rc=0
guest_mkdata /tmp/g2h $size || exit 1
guest_send 5001 /tmp/g2h || rc=1
rm -f /tmp/g2h
guest_recv 5002 /tmp/h2g || rc=1
rm -f /tmp/h2g
echo USVHOST_TRAFFIC_DONE
exit \$rc
GUEST
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 "$E2E_HOST_IP/24"
hz=$(getconf CLK_TCK)

# utime + stime of PID, in clock ticks
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# Every 0.1 s while PID lives: its CPU ticks and the console's line count,
# to tell the daemon's CPU during the transfers from the rest of the run.
sample_cpu() { # PID
	while e2e_alive "$1"; do
		echo "$(cpu_ticks "$1") $(wc -l <"$E2E_RUN_DIR/console.log" 2>/dev/null || echo 0)"
		sleep 0.1
	done >"$E2E_RUN_DIR/cpu.samples"
}

# Daemon ticks spent between the guest's begin and end marks of PORT: the
# first samples taken after each mark reached the console.
transfer_ticks() { # PORT
	local b e
	b=$(grep -an "^USVHOST_MARK begin port=$1" "$E2E_RUN_DIR/console.log" | cut -d: -f1)
	e=$(grep -an "^USVHOST_MARK end port=$1" "$E2E_RUN_DIR/console.log" | cut -d: -f1)
	[ -n "$b" ] && [ -n "$e" ] || return 1
	awk -v b="$b" -v e="$e" '!tb && $2 >= b { tb = $1 } $2 >= e { print $1 - tb; exit }' \
		"$E2E_RUN_DIR/cpu.samples"
}

# MB/s of the flow on PORT in run RUN, or why there is none.
rate() { # RUN PORT
	local line
	line=$(awk -v p="$2" '$2 == p' "$E2E_DIR/$1/flows" 2>/dev/null)
	case $line in
	*' ok') awk '{ printf "%.1f MB/s", ($4 > 0 ? $3 / $4 * 100 / 1e6 : 0) }' <<<"$line" ;;
	*' bad') echo "CORRUPT" ;;
	*)
		if grep -aq "port $2 failed or timed out" "$E2E_DIR/$1/console.log" 2>/dev/null; then
			echo "STALLED (> ${xfer_timeout} s)"
		else
			echo "FAILED"
		fi ;;
	esac
}

ratio() { # "N MB/s" "M MB/s"
	awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN {
		if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}

runs=(on off)
[ -z "$only" ] || runs=("$only")
daemon_cpu="" xfer_cpu="" moved=0
for E2E_VHOST in "${runs[@]}"; do
	e2e_log "=== vhost=$E2E_VHOST: $size MiB guest->host, then $size MiB host->guest (RAM $ram)"
	e2e_traffic_begin "$E2E_VHOST"
	e2e_flow_g2h 5001
	e2e_flow_h2g 5002 "$size"
	e2e_ping_guest
	if [ "$E2E_VHOST" = on ]; then
		t0=$(cpu_ticks "$E2E_DAEMON_PID")
		sample_cpu "$E2E_DAEMON_PID" &
		sampler=$!
	fi
	e2e_traffic_boot --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram"
	if [ "$E2E_VHOST" = on ]; then
		t1=$(cpu_ticks "$E2E_DAEMON_PID")
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		daemon_cpu=$(((t1 - t0) * 100 / hz)) # centiseconds
		on_secs=$E2E_GUEST_SECS
		if g=$(transfer_ticks 5001) && h=$(transfer_ticks 5002); then
			xfer_cpu=$(((g + h) * 100 / hz))
		fi
		e2e_traffic_check 1
		moved=$((E2E_G2H_BYTES + E2E_H2G_BYTES))
	else
		# Only the flows: QEMU's own path is the reference, not under test,
		# so its failures are reported in the table, not counted.
		fails=$E2E_FAILS
		e2e_check_flows
		[ "$E2E_FAILS" = "$fails" ] ||
			e2e_log "note: QEMU's own virtio-net failed a transfer (not counted: it is the reference)"
		E2E_FAILS=$fails
	fi
	e2e_run_end
done

on_g2h=$(rate on 5001) on_h2g=$(rate on 5002)
off_g2h=$(rate off 5001) off_h2g=$(rate off 5002)
echo
echo "== $prog: $size MiB each way, guest RAM $ram, QEMU $("$QEMU" --version | head -n1 | awk '{print $4}') TCG, $(nproc) host CPUs"
printf '%-26s %-22s %s\n' "" "guest->host" "host->guest"
[ "$only" = off ] || printf '%-26s %-22s %s\n' "vhost=on (usvhostd)" "$on_g2h" "$on_h2g"
[ "$only" = on ] || printf '%-26s %-22s %s\n' "vhost=off (QEMU userspace)" "$off_g2h" "$off_h2g"
[ -n "$only" ] || printf '%-26s %-22s %s\n' "ratio on/off" "$(ratio "$on_g2h" "$off_g2h")" "$(ratio "$on_h2g" "$off_h2g")"
# CPU per GB: during the two transfers only, and over the whole guest run
# (boot, making and checksumming the data: the daemon idles with rings up).
cpu_per_gb() { # WHAT CENTISECONDS
	awk -v w="$1" -v c="$2" -v b="$moved" 'BEGIN {
		printf "usvhostd CPU (user+sys) %s: %.2f s for %.3f GB moved", w, c / 100, b / 1e9
		if (b > 0) printf " = %.2f s/GB", c / 100 / (b / 1e9)
		print "" }'
}
[ -z "$xfer_cpu" ] || cpu_per_gb "during the transfers" "$xfer_cpu"
[ -z "$daemon_cpu" ] || cpu_per_gb "over the whole guest run ($on_secs s)" "$daemon_cpu"
e2e_finish
