# The datapath: a worker per device moving packets between rings and taps
# with io_uring. Programs link src/libusvcore.la after it.
noinst_LTLIBRARIES += src/libusvdp.la
src_libusvdp_la_SOURCES = \
	src/datapath/uring_dp.h src/datapath/dp_internal.h \
	src/datapath/dev.c \
	src/datapath/net_rx.c \
	src/datapath/net_tx.c \
	src/datapath/node.c \
	src/datapath/ring.c \
	src/datapath/signal.c \
	src/datapath/stats.c \
	src/datapath/worker.c
src_libusvdp_la_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS)
src_libusvdp_la_LIBADD = $(URING_LIBS) $(NUMA_LIBS)
