#!/usr/bin/env bash
# Boot a guest with unmodified QEMU whose vhost-net device is served by
# usvhostd: build if needed, start the daemon on its FUSE front, create a tap,
# run qemu-system-x86_64 -netdev tap,...,vhost=on,vhostfd=N, show the console,
# and tear everything down on exit. Everything runs in private mount and
# network namespaces: the host's mounts and network are not touched.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
prog=${0##*/}

usage() {
	cat <<EOF
Usage: $prog [options]

Builds usvhost if needed, starts usvhostd (FUSE front, private mount
namespace), creates tap usvtap0 (10.0.77.1/24, private network namespace) and
boots Debian's kernel with a busybox initramfs under unmodified QEMU (TCG):
  -netdev tap,ifname=usvtap0,vhost=on,vhostfd=3 3<>MOUNT/vhost-net
The guest brings eth0 up as 10.0.77.2/24, prints its virtio status and link
state, pings the host side of the tap and powers off; then the daemon gets
SIGTERM and a summary is printed. Needs root.

Options:
  --ram=anon|memfd     guest RAM: QEMU's default anonymous memory (daemon uses
                       /proc/PID/mem) or a shared memfd (daemon maps it,
                       zero copy). Default: anon
  --interactive        after the status, a shell on the guest console
                       ('exit' powers off; Ctrl-A x kills QEMU)
  --keep-logs=DIR      keep the daemon log, QEMU stderr/trace, console log in DIR
  --vhost=off          no daemon: QEMU's own virtio-net, for comparison
  --build-dir=DIR      out-of-tree build directory (default: SRCDIR/build,
                       or \$USVHOST_BUILD_DIR)
  --timeout=SECS       kill QEMU after SECS in the default mode (default 120)
  --help               this text

Missing build or test dependencies are installed with scripts/install-deps.sh
(or apt-get). The guest kernel is downloaded once into
\${USVHOST_CACHE:-\$HOME/.cache/usvhost}.
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }

ram=anon interactive=0 keep_logs="" vhost=on timeout=120
builddir=${USVHOST_BUILD_DIR:-$srcdir/build}
while [ $# -gt 0 ]; do
	case $1 in
	--ram=anon|--ram=memfd) ram=${1#*=} ;;
	--interactive) interactive=1 ;;
	--keep-logs=*) keep_logs=${1#*=} ;;
	--keep-logs) [ $# -ge 2 ] || die "--keep-logs needs a directory"; keep_logs=$2; shift ;;
	--vhost=on|--vhost=off) vhost=${1#*=} ;;
	--build-dir=*) builddir=${1#*=} ;;
	--timeout=*) timeout=${1#*=} ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || die "needs root (FUSE mount, tap device, namespaces); try: sudo $0"
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
case $keep_logs in ''|/*) ;; *) keep_logs=$PWD/$keep_logs ;; esac

# ---- on the host: dependencies and build (need the network, so before the
# ---- private network namespace) --------------------------------------------

deps_missing() {
	local c
	for c in autoreconf automake libtoolize pkg-config make cc qemu-system-x86_64 unshare; do
		command -v "$c" >/dev/null 2>&1 || { echo "$c"; return 0; }
	done
	if ! { [ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; }; then
		echo busybox-static
		return 0
	fi
	for c in fuse3 liburing cmocka; do
		pkg-config --exists "$c" || { echo "$c"; return 0; }
	done
	pkg-config --exists numa || [ -e /usr/include/numa.h ] || { echo libnuma; return 0; }
	return 1
}

ensure_deps() {
	local what
	what=$(deps_missing) || return 0
	echo "$prog: $what is missing; installing dependencies" >&2
	if [ -x "$srcdir/scripts/install-deps.sh" ]; then
		"$srcdir/scripts/install-deps.sh"
	else
		apt-get install -y libfuse3-dev fuse3 liburing-dev libnuma-dev libcmocka-dev \
			autoconf automake libtool pkg-config make gcc qemu-system-x86 busybox-static ||
			{ apt-get update && apt-get install -y libfuse3-dev fuse3 liburing-dev \
				libnuma-dev libcmocka-dev autoconf automake libtool pkg-config make gcc \
				qemu-system-x86 busybox-static; }
	fi
	what=$(deps_missing) && die "still missing after installing dependencies: $what"
	return 0
}

build() {
	if [ ! -x "$srcdir/configure" ] || [ "$srcdir/configure.ac" -nt "$srcdir/configure" ]; then
		echo "$prog: generating configure" >&2
		(cd "$srcdir" && ./autogen.sh) || die "autogen.sh failed"
	fi
	mkdir -p "$builddir"
	if [ ! -f "$builddir/Makefile" ]; then
		echo "$prog: configuring in $builddir" >&2
		(cd "$builddir" && "$srcdir/configure") || die "configure failed (see $builddir/config.log)"
	fi
	echo "$prog: building in $builddir" >&2
	make -C "$builddir" -j"$(nproc)" >&2 || die "build failed"
}

if [ -z "${USVHOST_E2E_NS:-}" ]; then
	ensure_deps
	[ "$vhost" = off ] || build
fi

export top_srcdir=$srcdir top_builddir=$builddir E2E_NAME=$prog
export USVHOST_E2E_REQUIRE=1 # for a user, a missing prerequisite is an error
. "$srcdir/tests/lib/e2e-lib.sh"
e2e_require_host
e2e_guest_kernel
# Re-run this script in the namespaces, with the options resolved here.
ns_args=(--ram="$ram" --vhost="$vhost" --build-dir="$builddir" --timeout="$timeout")
[ -z "$keep_logs" ] || ns_args+=(--keep-logs="$keep_logs")
[ "$interactive" = 0 ] || ns_args+=(--interactive)
e2e_enter_namespaces "${ns_args[@]}"

# ---- in the private namespaces ---------------------------------------------

E2E_KEEP_LOGS=$keep_logs
e2e_setup

# The guest side: bring the virtio NIC up and say how it looks.
cat >"$E2E_DIR/guest.sh" <<'EOF'
. /usvhost/guest-lib.sh
rc=0
dev=$(guest_virtio_net_dev) || exit 1
ifc=$(guest_iface_of "$dev") || exit 1
guest_check_driver_ok "$dev" || rc=1
guest_ifup "$ifc" 10.0.77.2/24 || rc=1
guest_show_status "$dev" "$ifc"
EOF
if [ "$interactive" = 1 ]; then
	cat >>"$E2E_DIR/guest.sh" <<'EOF'
echo "guest: the host side of the tap is 10.0.77.1 (try: ping -c 3 10.0.77.1)"
echo "guest: 'exit' powers the guest off; Ctrl-A x kills QEMU"
setsid cttyhack sh -l
EOF
else
	cat >>"$E2E_DIR/guest.sh" <<'EOF'
if ping -c 2 -w 4 -W 2 10.0.77.1 >/tmp/ping.out 2>&1; then
	echo "guest: ping 10.0.77.1 (host side of the tap): ok"
else
	echo "guest: ping 10.0.77.1 (host side of the tap) FAILED:"
	sed 's/^/guest:   /' /tmp/ping.out
fi
[ "$rc" = 0 ] && echo "USVHOST_RUN_GUEST_OK eth0=$(cat /sys/class/net/eth0/operstate)"
exit "$rc"
EOF
fi
e2e_mkinitramfs "$E2E_DIR/initrd.gz" "$E2E_DIR/guest.sh"
e2e_make_tap usvtap0 10.0.77.1/24
e2e_run_begin guest

if [ "$vhost" = on ]; then
	e2e_start_daemon
fi
echo "$prog: booting the guest (RAM: $ram, vhost=$vhost); console follows" >&2
t0=$SECONDS
if [ "$interactive" = 1 ]; then
	e2e_boot_guest --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram" \
		--vhost="$vhost" --console=tty --stdin=tty --timeout=0
else
	e2e_boot_guest --initrd="$E2E_DIR/initrd.gz" --tap=usvtap0 --ram="$ram" \
		--vhost="$vhost" --console=tty --timeout="$timeout"
fi
echo "$prog: guest ran $((SECONDS - t0)) s; summary:"

if [ "$interactive" = 0 ]; then
	e2e_check_console '^USVHOST_RUN_GUEST_OK eth0=up'
	# Informational: with vhost=on, packets only flow if usvhostd moves them.
	if grep -q 'ping 10.0.77.1 (host side of the tap): ok' "$E2E_RUN_DIR/console.log"; then
		e2e_log "note: the guest pinged the host side of the tap"
	else
		e2e_log "note: the guest's ping to the host side of the tap FAILED (no packets flowed)"
	fi
fi
e2e_check_qemu
if [ "$vhost" = on ]; then
	e2e_check_vhost_started
	log=$E2E_RUN_DIR/daemon.log
	e2e_log "usvhostd answered $(grep -c -- '-> ' "$log" || true) ioctls, $(grep -cE -- '-> -E[A-Z]+' "$log" || true) with an error; memory: $(grep -oE 'region [0-9]+:.*strategy=[a-z]+' "$log" | sed 's/:.*strategy=/:/' | tr '\n' ' ')"
	e2e_check_daemon_stop
fi
[ -n "$keep_logs" ] || e2e_log "logs are removed on exit; keep them with --keep-logs=DIR"
e2e_finish
