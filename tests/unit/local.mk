# Unit tests (cmocka) of the core, the datapath's buffers and tracing: no
# privileges, no kernel features. Cases that need a privilege (CAP_NET_RAW,
# /dev/net/tun) skip with the reason.
# unit.c is the shared fixture; with --wrap=syscall, tests/lib/libpidfdemul
# stands in for pidfd_open/pidfd_getfd where they answer ENOSYS (valgrind <
# 3.20).
if ENABLE_TESTS
# The ioctls through usv_ioctl_dispatch(), one program per subject, sharing
# ioctl_fixture.[ch].
IOCTL_TESTS = \
	tests/unit/test_dispatch \
	tests/unit/test_owner \
	tests/unit/test_features \
	tests/unit/test_mem_table \
	tests/unit/test_vring_ioctl \
	tests/unit/test_backend \
	tests/unit/test_datapath_ops \
	tests/unit/test_iotlb
UNIT_TESTS = \
	tests/unit/test_devlist \
	$(IOCTL_TESTS) \
	tests/unit/test_guestmem \
	tests/unit/test_access
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

UNIT_COMMON_SRC = tests/unit/unit.c tests/unit/unit.h
UNIT_CC_FLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -pthread
UNIT_LINK_FLAGS = $(AM_LDFLAGS) -pthread -Wl,--wrap=syscall
UNIT_LIBS = src/libusvcore.la tests/lib/libpidfdemul.la $(CMOCKA_LIBS)
IOCTL_COMMON_SRC = tests/unit/ioctl_fixture.c tests/unit/ioctl_fixture.h $(UNIT_COMMON_SRC)

tests_unit_test_devlist_SOURCES = tests/unit/test_devlist.c $(UNIT_COMMON_SRC)
tests_unit_test_devlist_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_devlist_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_devlist_LDADD = $(UNIT_LIBS)

tests_unit_test_dispatch_SOURCES = tests/unit/test_dispatch.c $(IOCTL_COMMON_SRC)
tests_unit_test_dispatch_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_dispatch_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_dispatch_LDADD = $(UNIT_LIBS)

tests_unit_test_owner_SOURCES = tests/unit/test_owner.c $(IOCTL_COMMON_SRC)
tests_unit_test_owner_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_owner_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_owner_LDADD = $(UNIT_LIBS)

tests_unit_test_features_SOURCES = tests/unit/test_features.c $(IOCTL_COMMON_SRC)
tests_unit_test_features_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_features_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_features_LDADD = $(UNIT_LIBS)

# test_alloc_failures: QEMU's sequence and a device's open with each of the
# core's allocations failing in turn (the allocator wrapped at link time).
check_PROGRAMS += tests/unit/test_alloc_failures
TESTS += tests/unit/test_alloc_failures
tests_unit_test_alloc_failures_SOURCES = tests/unit/test_alloc_failures.c $(IOCTL_COMMON_SRC)
tests_unit_test_alloc_failures_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_alloc_failures_LDFLAGS = $(UNIT_LINK_FLAGS) -Wl,--wrap=malloc \
	-Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=strdup
tests_unit_test_alloc_failures_LDADD = $(UNIT_LIBS)

tests_unit_test_mem_table_SOURCES = tests/unit/test_mem_table.c $(IOCTL_COMMON_SRC)
tests_unit_test_mem_table_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_mem_table_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_mem_table_LDADD = $(UNIT_LIBS)

tests_unit_test_vring_ioctl_SOURCES = tests/unit/test_vring_ioctl.c $(IOCTL_COMMON_SRC)
tests_unit_test_vring_ioctl_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_vring_ioctl_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_vring_ioctl_LDADD = $(UNIT_LIBS)

tests_unit_test_backend_SOURCES = tests/unit/test_backend.c $(IOCTL_COMMON_SRC)
tests_unit_test_backend_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_backend_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_backend_LDADD = $(UNIT_LIBS)

tests_unit_test_datapath_ops_SOURCES = tests/unit/test_datapath_ops.c $(IOCTL_COMMON_SRC)
tests_unit_test_datapath_ops_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_datapath_ops_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_datapath_ops_LDADD = $(UNIT_LIBS)

tests_unit_test_iotlb_SOURCES = tests/unit/test_iotlb.c $(IOCTL_COMMON_SRC)
tests_unit_test_iotlb_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_iotlb_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_iotlb_LDADD = $(UNIT_LIBS)

tests_unit_test_guestmem_SOURCES = tests/unit/test_guestmem.c $(UNIT_COMMON_SRC)
tests_unit_test_guestmem_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_guestmem_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_guestmem_LDADD = $(UNIT_LIBS)

tests_unit_test_access_SOURCES = tests/unit/test_access.c $(UNIT_COMMON_SRC)
tests_unit_test_access_CFLAGS = $(UNIT_CC_FLAGS)
tests_unit_test_access_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_access_LDADD = $(UNIT_LIBS)
endif

# test_vring: the split ring's host side (core/vringh.c) against guest memory
# built by vring_fixture.[ch], shared with test_vring_packed; self-contained so
# that it does not depend on the rules above.
if ENABLE_TESTS
VRING_COMMON_SRC = tests/unit/vring_fixture.c tests/unit/vring_fixture.h \
	tests/unit/unit.c tests/unit/unit.h
check_PROGRAMS += tests/unit/test_vring
TESTS += tests/unit/test_vring
tests_unit_test_vring_SOURCES = tests/unit/test_vring.c $(VRING_COMMON_SRC)
tests_unit_test_vring_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -pthread
tests_unit_test_vring_LDFLAGS = $(AM_LDFLAGS) -pthread -Wl,--wrap=syscall
tests_unit_test_vring_LDADD = src/libusvcore.la tests/lib/libpidfdemul.la $(CMOCKA_LIBS)
endif

# test_vring_packed: the packed ring's host side (core/vringh_packed.c behind
# the same calls) against guest memory built by vring_fixture.[ch].
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_vring_packed
TESTS += tests/unit/test_vring_packed
tests_unit_test_vring_packed_SOURCES = tests/unit/test_vring_packed.c $(VRING_COMMON_SRC)
tests_unit_test_vring_packed_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -pthread
tests_unit_test_vring_packed_LDFLAGS = $(AM_LDFLAGS) -pthread -Wl,--wrap=syscall
tests_unit_test_vring_packed_LDADD = src/libusvcore.la tests/lib/libpidfdemul.la $(CMOCKA_LIBS)
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

# test_dp_failures: the datapath's acquisitions on a device's way up (its
# state, on its memory's NUMA node, worker, io_uring, ring buffers) and at its
# creation (the stats writer), each failing in turn (the calls wrapped at link
# time), through the core with a real tap in a private network namespace
# (root, else skipped).
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_dp_failures
TESTS += tests/unit/test_dp_failures
tests_unit_test_dp_failures_SOURCES = tests/unit/test_dp_failures.c $(IOCTL_COMMON_SRC)
tests_unit_test_dp_failures_CFLAGS = $(UNIT_CC_FLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS)
tests_unit_test_dp_failures_LDFLAGS = $(UNIT_LINK_FLAGS) -Wl,--wrap=malloc \
	-Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=strdup -Wl,--wrap=eventfd \
	-Wl,--wrap=signalfd -Wl,--wrap=io_uring_queue_init -Wl,--wrap=pthread_create \
	-Wl,--wrap=mmap -Wl,--wrap=open -Wl,--wrap=numa_num_configured_nodes \
	-Wl,--wrap=numa_alloc_onnode -Wl,--wrap=numa_allocate_cpumask \
	-Wl,--wrap=numa_allocate_nodemask -Wl,--wrap=numa_node_to_cpus
tests_unit_test_dp_failures_LDADD = src/libusvdp.la $(UNIT_LIBS) $(URING_LIBS) $(NUMA_LIBS)
endif

# test_trace: tracing, profiles and fault injection with no privilege (the
# --inject parser, the profile gate, the dispatch hook, the recorder's JSON
# read back through the format's reader).
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_trace
TESTS += tests/unit/test_trace
tests_unit_test_trace_SOURCES = tests/unit/test_trace.c
tests_unit_test_trace_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JSONC_CFLAGS) -pthread
tests_unit_test_trace_LDFLAGS = $(AM_LDFLAGS) -pthread -Wl,--wrap=syscall
tests_unit_test_trace_LDADD = src/libusvtrace.la src/libusvcore.la tests/lib/libpidfdemul.la \
	$(JSONC_LIBS) $(CMOCKA_LIBS)
endif

# test_schema: a row alone gets logs, traces, replay and injection, and
# usvhost-trace(5) lists what the table decodes.
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_schema
TESTS += tests/unit/test_schema
tests_unit_test_schema_SOURCES = tests/unit/test_schema.c
tests_unit_test_schema_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_schema_LDADD = src/libusvtrace.la src/libusvcore.la $(JSONC_LIBS) $(CMOCKA_LIBS) -lpthread
endif

# No switch on ioctl numbers outside the handlers: the table is the one source.
TESTS += tests/unit/no-ioctl-switch.sh
EXTRA_DIST += tests/unit/no-ioctl-switch.sh

# test_control: the control socket's requests (src/daemon/control_cmd.c and
# the trace switch, built in here), answered with no socket.
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_control
TESTS += tests/unit/test_control
tests_unit_test_control_SOURCES = tests/unit/test_control.c $(UNIT_COMMON_SRC) \
	src/daemon/control_cmd.c src/daemon/control_cmd.h \
	src/daemon/trace_switch.c src/daemon/trace_switch.h src/front/front_state.c
tests_unit_test_control_CFLAGS = $(UNIT_CC_FLAGS) $(JSONC_CFLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS)
tests_unit_test_control_LDFLAGS = $(UNIT_LINK_FLAGS)
tests_unit_test_control_LDADD = src/libusvdp.la src/libusvtrace.la $(UNIT_LIBS) \
	$(URING_LIBS) $(NUMA_LIBS) $(JSONC_LIBS)
endif

# test_devstate: a device handed over (core/devstate.c and
# src/daemon/devstate_json.c, built in here): saved, restored into a second
# list from its JSON text and dup'd fds, resumed (also with the io_uring
# datapath: the interrupt, the counters); malformed states refused.
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test_devstate
TESTS += tests/unit/test_devstate
tests_unit_test_devstate_SOURCES = tests/unit/test_devstate.c $(IOCTL_COMMON_SRC) \
	src/daemon/devstate_json.c src/daemon/devstate_json.h
tests_unit_test_devstate_CFLAGS = $(UNIT_CC_FLAGS) $(JSONC_CFLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS)
tests_unit_test_devstate_LDFLAGS = $(UNIT_LINK_FLAGS) -Wl,--wrap=malloc \
	-Wl,--wrap=calloc -Wl,--wrap=realloc
tests_unit_test_devstate_LDADD = src/libusvdp.la $(UNIT_LIBS) $(URING_LIBS) $(NUMA_LIBS) \
	$(JSONC_LIBS)
endif
