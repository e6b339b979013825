# The core: vhost-net's ioctls, guest memory and the ring walker. It knows
# nothing of FUSE, io_uring or JSON (see docs/architecture.md); the observer
# interface and --inject are its only hooks for watchers.
noinst_LTLIBRARIES += src/libusvcore.la
src_libusvcore_la_SOURCES = \
	src/core/bytes.h \
	src/core/caller.c src/core/caller.h \
	src/core/device.c src/core/device.h \
	src/core/devlist.c src/core/devlist.h \
	src/core/devstate.c src/core/devstate.h \
	src/core/devsummary.c src/core/devsummary.h \
	src/core/dispatch.c src/core/dispatch.h \
	src/core/errno_name.c src/core/errno_name.h \
	src/core/guestmem.c src/core/guestmem.h \
	src/core/inject.c src/core/inject.h \
	src/core/iotlb.c src/core/iotlb.h \
	src/core/iotlb_msgq.c src/core/iotlb_msgq.h \
	src/core/ioctl_table.c src/core/ioctl_table.h \
	src/core/ioctl_schema.c \
	src/core/log.c src/core/log.h \
	src/core/observer.h \
	src/core/procmaps.c src/core/procmaps.h \
	src/core/profile.c src/core/profile.h \
	src/core/request.c src/core/request.h \
	src/core/vhost_access.c \
	src/core/vhost_chr.c src/core/vhost_chr.h \
	src/core/vhost_dev.c \
	src/core/vhost_net.c \
	src/core/vhost_ops.h \
	src/core/vhost_vring.c \
	src/core/vringh.c src/core/vringh_buf.c src/core/vringh_internal.h \
	src/core/vringh_packed.c src/core/vringh_iotlb.c
src_libusvcore_la_LIBADD = -lpthread
