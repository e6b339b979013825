# usvhostd: options, privileges, the seccomp allow-list, and the wiring of fronts, datapath, trace
# recorder and core. Each library is linked once, users before the core.
sbin_PROGRAMS += src/usvhostd
src_usvhostd_SOURCES = \
	src/daemon/usvhostd.c \
	src/daemon/options.c src/daemon/options.h \
	src/daemon/privileges.c src/daemon/privileges.h \
	src/daemon/seccomp.c src/daemon/seccomp.h
src_usvhostd_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(SECCOMP_CFLAGS)
src_usvhostd_LDADD = src/libusvfront.la src/libusvdp.la src/libusvtrace.la src/libusvcore.la \
	$(URING_LIBS) $(NUMA_LIBS) $(FUSE3_LIBS) $(JSONC_LIBS) $(SECCOMP_LIBS) -lpthread
