# usvhostd: options, privileges, the seccomp allow-list, the control socket,
# readiness, the stop's time bound, and the wiring of fronts, datapath, trace recorder and core.
# Each library is linked once, users before the core.
sbin_PROGRAMS += src/usvhostd
src_usvhostd_SOURCES = \
	src/daemon/usvhostd.c \
	src/daemon/options.c src/daemon/options.h \
	src/daemon/notify.c src/daemon/notify.h \
	src/daemon/privileges.c src/daemon/privileges.h \
	src/daemon/seccomp.c src/daemon/seccomp.h \
	src/daemon/control.c src/daemon/control.h \
	src/daemon/control_cmd.c src/daemon/control_cmd.h \
	src/daemon/devstate_json.c src/daemon/devstate_json.h \
	src/daemon/trace_switch.c src/daemon/trace_switch.h \
	src/daemon/takeover.c src/daemon/takeover.h \
	src/daemon/stop_watch.c src/daemon/stop_watch.h
src_usvhostd_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(JSONC_CFLAGS) $(SECCOMP_CFLAGS)
src_usvhostd_LDADD = src/libusvfront.la src/libusvdp.la src/libusvtrace.la src/libusvcore.la \
	$(URING_LIBS) $(NUMA_LIBS) $(FUSE3_LIBS) $(JSONC_LIBS) $(SECCOMP_LIBS) -lpthread
