# End-to-end tests: unmodified QEMU against usvhostd (need root, /dev/fuse,
# /dev/net/tun and qemu-system-x86; they skip loudly otherwise).
# traffic-*: packets through usvhostd's datapath (E2E_VHOST=off runs their
# guest scripting against QEMU's own virtio-net instead).
TESTS += \
	tests/e2e/qemu-driver-ok.sh \
	tests/e2e/traffic-basic.sh \
	tests/e2e/traffic-features.sh \
	tests/e2e/traffic-reload.sh \
	tests/e2e/traffic-mq.sh
EXTRA_DIST += \
	tests/e2e/qemu-driver-ok.sh \
	tests/e2e/traffic-basic.sh \
	tests/e2e/traffic-features.sh \
	tests/e2e/traffic-reload.sh \
	tests/e2e/traffic-mq.sh \
	tests/e2e/tap-queues.py \
	tests/e2e/lib.sh \
	tests/e2e/guest-lib.sh
