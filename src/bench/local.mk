# usvhost-bench: a load generator that plays QEMU and a virtio-net guest
# against any vhost-net device with a tap backend, and measures. It links no
# library of the daemon and no test code.
bin_PROGRAMS += src/usvhost-bench
src_usvhost_bench_SOURCES = \
	src/bench/bench.h \
	src/bench/bench_main.c \
	src/bench/bench_dev.c \
	src/bench/bench_guest.c \
	src/bench/bench_packed.c \
	src/bench/bench_idle.c \
	src/bench/bench_tap.c \
	src/bench/bench_cpu.c \
	src/bench/bench_util.c
src_usvhost_bench_CFLAGS = $(AM_CFLAGS) -pthread
src_usvhost_bench_LDFLAGS = $(AM_LDFLAGS) -pthread
