# Conformance: a table of vhost-net ioctl scenarios run against a device and
# compared with the kernel's answers. On the host it runs against usvhostd's
# FUSE file (conformance-fuse.sh); in the test VM side by side with the
# kernel's /dev/vhost-net (tests/vm/t-conformance.sh). Built on the test
# clients' library (tests/lib).
check_PROGRAMS += tests/conformance/vhost_conformance
tests_conformance_vhost_conformance_SOURCES = \
	tests/conformance/vhost_conformance.c
tests_conformance_vhost_conformance_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_conformance_vhost_conformance_LDADD = tests/lib/libusvtestclient.la
tests_conformance_vhost_conformance_CFLAGS = $(AM_CFLAGS) -pthread
tests_conformance_vhost_conformance_LDFLAGS = $(AM_LDFLAGS) -pthread

TESTS += tests/conformance/conformance-fuse.sh
EXTRA_DIST += tests/conformance/conformance-fuse.sh
