# The transports: each turns kernel requests (CUSE, a FUSE file) into core
# requests. Programs link src/libusvcore.la after it.
noinst_LTLIBRARIES += src/libusvfront.la
src_libusvfront_la_SOURCES = \
	src/front/front.c src/front/front.h \
	src/front/cuse.c \
	src/front/uaccess.c src/front/uaccess.h \
	src/front/fusefile.c \
	src/front/loop.c src/front/loop.h \
	src/front/handover.c src/front/handover.h \
	src/front/front_ctl.c src/front/front_ctl.h \
	src/front/front_state.c
src_libusvfront_la_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(JSONC_CFLAGS)
src_libusvfront_la_LIBADD = $(FUSE3_LIBS) $(JSONC_LIBS)
