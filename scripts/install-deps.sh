#!/usr/bin/env bash
# Installs what building and testing usvhost needs on Debian/Ubuntu.
# Idempotent: does nothing (and needs no network) when everything is there.
set -eu

usage() {
	cat <<'TXT'
Usage: install-deps.sh [--check]

Installs with apt-get, as root, the packages usvhost needs to build, run its
tests and boot test guests:
  build:  gcc make autoconf automake libtool pkg-config
          libfuse3-dev liburing-dev libnuma-dev libcmocka-dev libjson-c-dev
          libseccomp-dev
  run:    fuse3
  tests:  qemu-system-x86 busybox-static iproute2 valgrind gdb (seccomp.sh)
          systemd (systemd-analyze, for the unit's tests; systemd need not
          be PID 1) systemd-container (systemd-nspawn: the unit under a
          real systemd) strace (the unit's system-call filter, checked)
          clang libclang-rt-14-dev (libFuzzer, for --enable-fuzzing)
          libvirt-daemon-system libvirt-clients (libvirt.sh: a libvirtd of
          the test's own; installed without recommends)
          (guest kernels come from Debian's linux-image package, fetched by
          scripts/guest-kernel.sh without installing it)
--check   only list what is missing; exit 1 if anything is.
TXT
}

pkgs=(gcc make autoconf automake libtool pkg-config libfuse3-dev liburing-dev
      libnuma-dev libcmocka-dev libjson-c-dev libseccomp-dev fuse3 qemu-system-x86
      busybox-static iproute2 valgrind gdb clang libclang-rt-14-dev systemd
      systemd-container strace libvirt-daemon-system libvirt-clients)

check=0
case "${1:-}" in
	--help|-h) usage; exit 0 ;;
	--check) check=1 ;;
	"") ;;
	*) usage >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#pkgs[@]} packages present"
	exit 0
fi
echo "install-deps: missing: ${missing[*]}"
[ "$check" -eq 0 ] || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get install ${missing[*]})" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
