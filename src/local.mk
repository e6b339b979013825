# The core: no knowledge of FUSE or io_uring (see docs/architecture.md).
noinst_LTLIBRARIES += src/libusvcore.la
src_libusvcore_la_SOURCES = \
	src/core/bytes.h \
	src/core/caller.c src/core/caller.h \
	src/core/device.c src/core/device.h \
	src/core/devlist.c src/core/devlist.h \
	src/core/dispatch.c src/core/dispatch.h \
	src/core/errno_name.c src/core/errno_name.h \
	src/core/guestmem.c src/core/guestmem.h \
	src/core/ioctl_table.c src/core/ioctl_table.h \
	src/core/ioctl_schema.c \
	src/core/log.c src/core/log.h \
	src/core/procmaps.c src/core/procmaps.h \
	src/core/profile.c src/core/profile.h \
	src/core/request.c src/core/request.h \
	src/core/vhost_access.c \
	src/core/vhost_chr.c src/core/vhost_chr.h \
	src/core/vhost_dev.c \
	src/core/vhost_net.c \
	src/core/vhost_ops.h \
	src/core/vhost_vring.c \
	src/core/vring.c src/core/vring.h \
	include/usvhost/datapath.h \
	include/usvhost/vhost_abi.h
src_libusvcore_la_LIBADD = -lpthread

# The transports: each turns kernel requests into core requests.
noinst_LTLIBRARIES += src/libusvfront.la
src_libusvfront_la_SOURCES = \
	src/front/front.c src/front/front.h \
	src/front/cuse.c \
	src/front/uaccess.c src/front/uaccess.h \
	src/front/fusefile.c
src_libusvfront_la_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS)
src_libusvfront_la_LIBADD = src/libusvcore.la $(FUSE3_LIBS)

sbin_PROGRAMS += src/usvhostd
src_usvhostd_SOURCES = src/daemon/usvhostd.c src/daemon/options.c src/daemon/options.h \
	src/daemon/privileges.c src/daemon/privileges.h
src_usvhostd_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS)
src_usvhostd_LDADD = src/libusvfront.la src/libusvdp.la src/libusvcore.la $(URING_LIBS) $(NUMA_LIBS) $(FUSE3_LIBS) -lpthread

# The datapath: io_uring workers moving packets between rings and taps.
noinst_LTLIBRARIES += src/libusvdp.la
src_libusvdp_la_SOURCES = \
	src/datapath/datapath.h src/datapath/dp.h \
	src/datapath/dev.c \
	src/datapath/net_rx.c \
	src/datapath/net_tx.c \
	src/datapath/ring.c \
	src/datapath/signal.c \
	src/datapath/stats.c \
	src/datapath/worker.c
src_libusvdp_la_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS)
src_libusvdp_la_LIBADD = src/libusvcore.la $(URING_LIBS) $(NUMA_LIBS)
