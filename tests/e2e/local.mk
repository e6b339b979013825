# End-to-end tests: unmodified QEMU against usvhostd (need root, /dev/fuse,
# /dev/net/tun and qemu-system-x86; they skip loudly otherwise).
TESTS += tests/e2e/qemu-driver-ok.sh
EXTRA_DIST += \
	tests/e2e/qemu-driver-ok.sh \
	tests/e2e/lib.sh \
	tests/e2e/guest-lib.sh
