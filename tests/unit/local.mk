# Unit tests of the core (cmocka): no privileges, no kernel features. Cases
# that need a privilege (CAP_NET_RAW, /dev/net/tun) skip with the reason.
# unit.c is the shared fixture; with --wrap=syscall, tests/lib/pidfd_emul.c stands in for
# pidfd_open/pidfd_getfd where they answer ENOSYS (valgrind < 3.20).
if ENABLE_TESTS
UNIT_TESTS = \
	tests/unit/test_devlist \
	tests/unit/test_ioctl \
	tests/unit/test_guestmem \
	tests/unit/test_access
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

UNIT_COMMON_SRC = tests/unit/unit.c tests/unit/unit.h tests/lib/pidfd_emul.c
UNIT_CC_FLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -pthread
UNIT_LINK_FLAGS = $(AM_LDFLAGS) -pthread -Wl,--wrap=syscall
UNIT_LIBS = src/libusvcore.la $(CMOCKA_LIBS)

tests_unit_test_devlist_SOURCES = tests/unit/test_devlist.c $(UNIT_COMMON_SRC)
tests_unit_test_devlist_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_devlist_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_devlist_LDADD = $(UNIT_LIBS)

tests_unit_test_ioctl_SOURCES = tests/unit/test_ioctl.c $(UNIT_COMMON_SRC)
tests_unit_test_ioctl_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_ioctl_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_ioctl_LDADD = $(UNIT_LIBS)

tests_unit_test_guestmem_SOURCES = tests/unit/test_guestmem.c $(UNIT_COMMON_SRC)
tests_unit_test_guestmem_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_guestmem_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_guestmem_LDADD = $(UNIT_LIBS)

tests_unit_test_access_SOURCES = tests/unit/test_access.c $(UNIT_COMMON_SRC)
tests_unit_test_access_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_access_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_access_LDADD = $(UNIT_LIBS)
endif

# test_vring: the split ring's host side (core/vring.c) against guest memory
# built in the test; self-contained so that it does not depend on the rules above.
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_vring
TESTS += tests/unit/test_vring
tests_unit_test_vring_SOURCES = tests/unit/test_vring.c tests/unit/unit.c tests/unit/unit.h tests/lib/pidfd_emul.c
tests_unit_test_vring_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -pthread
tests_unit_test_vring_LDFLAGS = $(AM_LDFLAGS) -pthread -Wl,--wrap=syscall
tests_unit_test_vring_LDADD = src/libusvcore.la $(CMOCKA_LIBS)
endif

# test_dp_buffers: the datapath's ring buffers come all or none, through the
# allocator seam of usv_dp_ring_alloc().
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_dp_buffers
TESTS += tests/unit/test_dp_buffers
tests_unit_test_dp_buffers_SOURCES = tests/unit/test_dp_buffers.c
tests_unit_test_dp_buffers_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS) -pthread
tests_unit_test_dp_buffers_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_unit_test_dp_buffers_LDADD = src/libusvdp.la src/libusvcore.la $(URING_LIBS) $(NUMA_LIBS) $(CMOCKA_LIBS)
endif

# No switch on ioctl numbers outside the handlers: the table is the one source.
TESTS += tests/unit/no-ioctl-switch.sh
EXTRA_DIST += tests/unit/no-ioctl-switch.sh
