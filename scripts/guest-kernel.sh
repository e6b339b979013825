#!/usr/bin/env bash
# Fetch Debian's amd64 guest kernel for the e2e guests, without installing it on
# the host: apt-get download + dpkg -x into a cache, then depmod (the .deb ships
# no modules.dep). Idempotent: a cached kernel is reused without touching apt.
set -eu

usage() {
	cat <<EOF
Usage: ${0##*/} [--print-var=NAME] [--quiet] [--refresh]

Fetches the kernel package that 'apt-cache depends linux-image-amd64' names
(linux-image-6.1.0-*-amd64), unpacks it under the cache directory and runs
depmod on it. Nothing is installed on the host.

Output (stdout), shell-sourceable, e.g. eval "\$(${0##*/})":
  USVHOST_KVER=6.1.0-NN-amd64
  USVHOST_VMLINUZ=CACHE/kernel/6.1.0-NN-amd64/root/boot/vmlinuz-6.1.0-NN-amd64
  USVHOST_MODDIR=CACHE/kernel/6.1.0-NN-amd64/root/lib/modules/6.1.0-NN-amd64

Options:
  --print-var=NAME  print only the value of NAME (KVER, VMLINUZ or MODDIR)
  --quiet           no progress messages on stderr
  --refresh         look the package up again even if a kernel is cached
                    (runs 'apt-get update' only if the lookup fails)
  --help            this text

Environment:
  USVHOST_CACHE     cache directory
                    (default \${XDG_CACHE_HOME:-\$HOME/.cache}/usvhost)
  USVHOST_KERNEL_PKG  use this package instead of the one linux-image-amd64 names
EOF
}

print_var=""
quiet=0
refresh=0
for arg in "$@"; do
	case $arg in
	--print-var=*) print_var=${arg#*=} ;;
	--quiet) quiet=1 ;;
	--refresh) refresh=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "${0##*/}: unknown option '$arg' (try --help)" >&2; exit 2 ;;
	esac
done
case $print_var in
''|KVER|VMLINUZ|MODDIR) ;;
*) echo "${0##*/}: --print-var takes KVER, VMLINUZ or MODDIR" >&2; exit 2 ;;
esac

cache=${USVHOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/usvhost}
kdir=$cache/kernel

say() { [ "$quiet" = 1 ] || echo "${0##*/}: $*" >&2; }
die() { echo "${0##*/}: error: $*" >&2; exit 1; }

emit() {
	local kver=$1 root=$kdir/$1/root
	local vmlinuz=$root/boot/vmlinuz-$kver moddir=$root/lib/modules/$kver
	case $print_var in
	KVER) printf '%s\n' "$kver" ;;
	VMLINUZ) printf '%s\n' "$vmlinuz" ;;
	MODDIR) printf '%s\n' "$moddir" ;;
	*) printf 'USVHOST_KVER=%q\nUSVHOST_VMLINUZ=%q\nUSVHOST_MODDIR=%q\n' \
		"$kver" "$vmlinuz" "$moddir" ;;
	esac
}

# A cached kernel is complete only once its stamp exists (written last).
cached_kver() {
	local stamp
	[ -e "$kdir/current" ] || return 1
	stamp=$(cat "$kdir/current") || return 1
	[ -n "$stamp" ] && [ -e "$kdir/$stamp/ok" ] || return 1
	printf '%s\n' "$stamp"
}

# Fast path without any lock or apt call.
if [ "$refresh" = 0 ] && [ -z "${USVHOST_KERNEL_PKG:-}" ] && kver=$(cached_kver); then
	emit "$kver"
	exit 0
fi

mkdir -p "$kdir"
# Serialise concurrent test runs fetching the same kernel.
exec 9>"$kdir/.lock"
flock -w 900 9 || die "timed out waiting for the lock on $kdir/.lock"

lookup_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}

pkg=${USVHOST_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(lookup_pkg)
	if [ -z "$pkg" ]; then
		say "apt-cache does not know linux-image-amd64; running apt-get update"
		if apt-get update -qq >&2; then
			pkg=$(lookup_pkg)
		fi
	fi
	if [ -z "$pkg" ]; then
		# Offline but cached: better an older kernel than none.
		if kver=$(cached_kver); then
			say "warning: cannot look up the kernel package; using cached $kver"
			emit "$kver"
			exit 0
		fi
		die "cannot find the package that linux-image-amd64 depends on (apt-cache depends linux-image-amd64)"
	fi
fi
kver=${pkg#linux-image-}
case $kver in
*[!A-Za-z0-9.+_-]*|'') die "unexpected kernel package name '$pkg'" ;;
esac

if [ ! -e "$kdir/$kver/ok" ]; then
	say "fetching $pkg (about 70 MB, once) into $kdir"
	tmp=$(mktemp -d "$kdir/.fetch.XXXXXX")
	dl=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-kernel.XXXXXX")
	trap 'rm -rf --one-file-system "$tmp" "$dl"' EXIT
	# apt downloads as user _apt when run as root: give it a directory it can
	# reach (the cache may sit under a private home).
	chmod 0777 "$dl"
	(cd "$dl" && apt-get download -q "$pkg" >&2) ||
		die "apt-get download $pkg failed"
	deb=$(find "$dl" -maxdepth 1 -name "*.deb" | head -n1)
	[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
	mkdir "$tmp/root"
	dpkg -x "$deb" "$tmp/root" || die "dpkg -x $deb failed"
	[ -f "$tmp/root/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
	[ -d "$tmp/root/lib/modules/$kver" ] || die "$deb has no lib/modules/$kver"
	# kmod's depmod if installed, else busybox's (same -b semantics).
	if command -v depmod >/dev/null 2>&1; then
		depmod -b "$tmp/root" "$kver" || die "depmod failed"
	elif [ -x /sbin/depmod ]; then
		/sbin/depmod -b "$tmp/root" "$kver" || die "depmod failed"
	else
		busybox depmod -b "$tmp/root" "$kver" || die "busybox depmod failed"
	fi
	[ -s "$tmp/root/lib/modules/$kver/modules.dep" ] || die "depmod wrote no modules.dep"
	dpkg-deb -f "$deb" Version >"$tmp/version"
	rm -rf --one-file-system "$dl"
	rm -rf --one-file-system "${kdir:?}/$kver"
	mkdir "$kdir/$kver"
	mv "$tmp/root" "$tmp/version" "$kdir/$kver/"
	touch "$kdir/$kver/ok"
	rm -rf --one-file-system "$tmp"
	trap - EXIT
	say "cached $pkg $(cat "$kdir/$kver/version") in $kdir/$kver"
fi
if [ -z "${USVHOST_KERNEL_PKG:-}" ]; then
	echo "$kver" >"$kdir/current.tmp" && mv "$kdir/current.tmp" "$kdir/current"
fi
emit "$kver"
