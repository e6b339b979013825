/* SPDX-License-Identifier: MIT */
/*
 * usvhost-bench: plays QEMU and a virtio-net guest driver against a vhost-net
 * device (usvhost's FUSE file or CUSE node, or the kernel's /dev/vhost-net)
 * with a tap backend, and measures. Its own code only: it links nothing of
 * the daemon and nothing of the tests.
 *
 *   bench_main.c  options, the run, the report (text or JSON)
 *   bench_idle.c  --test=idle: devices set up, nothing moved, the CPU it costs
 *   bench_dev.c   guest RAM, the rings' places, the ioctl sequence, teardown
 *   bench_guest.c the guest driver's loops (tx, rx, rr) on those rings
 *   bench_packed.c the packed ring's driver side (--layout=packed)
 *   bench_tap.c   taps, the host side (AF_PACKET), counters, raw mode
 *   bench_cpu.c   the backend's CPU time (usvhostd or the kernel's vhost-PID)
 */
#ifndef USVHOST_BENCH_H
#define USVHOST_BENCH_H

#include <net/if.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_ETHERTYPE 0x88b5 /* IEEE local experimental */
#define BENCH_HDR 12           /* virtio_net_hdr_mrg_rxbuf */
#define BENCH_MAX_DEVICES 64
#define BENCH_MAX_RING 1024
#define BENCH_MAX_SIZE 65000
#define BENCH_MIN_SIZE 60
#define BENCH_MAX_SECS 3600
/* RX buffer sizes Linux's virtio-net posts with MRG_RXBUF (1500-byte MTU). */
#define BENCH_RX_BUF_MIN 1536
#define BENCH_RX_BUF_MAX 4096
/* Latency samples kept for rr (more round trips are counted, not kept). */
#define BENCH_MAX_SAMPLES (1u << 20)

enum bench_test { BENCH_TX, BENCH_RX, BENCH_RR, BENCH_IDLE };
enum bench_ram { BENCH_RAM_MEMFD, BENCH_RAM_ANON };
/* --iommu: no vIOMMU; a guest vIOMMU in passthrough with one mapping over
 * guest RAM; or one mapping per 4 KiB page of it (every IOVA equal to its
 * guest address in both: rings and buffers are IOVAs then). */
enum bench_iommu { BENCH_IOMMU_NONE, BENCH_IOMMU_PT, BENCH_IOMMU_PAGES };

struct bench_opts {
	const char *dev;
	enum bench_test test;
	enum bench_ram ram;
	bool poll; /* --guest=poll: the guest spins instead of sleeping on interrupts */
	bool packed; /* --layout=packed: VIRTIO_F_RING_PACKED rings */
	enum bench_iommu iommu;
	bool raw;
	bool json;
	unsigned size, devices, secs, ring;
	pid_t backend_pid; /* 0: find it */
};

/* The driver's view of one ring, in guest RAM. avail_idx and last_used
 * count buffers posted and used entries reclaimed on both layouts (the
 * split ring's own indexes); their difference is what is in flight. */
struct bench_vring {
	unsigned num;
	bool packed;
	struct bench_vdesc *desc;
	uint16_t *avail; /* flags, idx, ring[num], used_event */
	uint16_t *used;  /* flags, idx, then {u32 id, u32 len}[num], avail_event */
	uint16_t avail_idx, last_used;
	/* Packed: the event suppression structures ({off_wrap, flags} as one
	 * 32-bit word), the next slot to fill and the next to reclaim, each
	 * with the driver's wrap counter in bit 15, and the flags last written
	 * in driver_event. */
	uint32_t *driver_event, *device_event;
	uint16_t next_avail, next_used;
	uint16_t event_flags;
	uint16_t free_top, *free_ids; /* stack of free descriptor ids */
	uint8_t *bufs;                /* num buffers of bufsz */
	uint64_t bufs_gpa;
	size_t bufsz;
};

struct bench_vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* A packed ring's descriptor: the same 16 bytes, other fields. */
struct bench_pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

#define BENCH_PACKED_WRAP 0x8000 /* the wrap counter's bit in a position */

/* The host side of a tap: its interface and an AF_PACKET socket on it. */
struct bench_port {
	char ifname[IFNAMSIZ];
	int ifindex;
	int pkt;
};

/* The tap's own counters (/sys/class/net/TAP/statistics). */
struct bench_tapstat {
	uint64_t rx_packets, rx_dropped, tx_packets, tx_dropped;
};

struct bench_dev {
	unsigned index;
	const struct bench_opts *o;
	int fd, tap;
	int kick[2], call[2];
	int memfd;
	uint8_t *ram;
	size_t ram_size;
	struct bench_vring vq[2]; /* 0: rx, 1: tx, as virtio-net numbers them */
	struct bench_port port;
	struct bench_tapstat tap0, tap1;

	/* Filled by the loops. */
	uint64_t frames_window; /* counted between start and stop */
	uint64_t frames_total;  /* counted until the rings were quiet */
	uint64_t port_frames;   /* seen or sent by the host side */
	uint64_t port_drops;
	uint64_t *samples;      /* rr round trips, ns */
	size_t nsamples;
	uint64_t lost;          /* rr round trips that never came back */
	int err;                /* first error of its threads, -errno */
};

/* Shared by every thread of a run: when to stop. */
struct bench_clock {
	atomic_int phase; /* 0 run, 1 stop posting, 2 stop everything */
};

uint64_t bench_now_ns(void);
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bench_dev.c; open: -EPROTONOSUPPORT when --layout=packed or --iommu and
 * the device does not offer what they need (said why). */
int bench_dev_open(struct bench_dev *d);
void bench_dev_close(struct bench_dev *d);
void bench_vring_kick(struct bench_dev *d, unsigned q, uint16_t old);
size_t bench_bufsz(const struct bench_opts *o);

/* bench_packed.c: the packed ring as Linux's virtio_ring.c drives it. */
void bench_packed_add(struct bench_vring *r, uint16_t id, uint64_t addr, uint32_t len,
		      uint16_t flags);
bool bench_packed_pending(const struct bench_vring *r);
bool bench_packed_get(struct bench_vring *r, uint32_t *id, uint32_t *len);
/* Interrupt me once the device has used k more entries than reclaimed
 * (k >= num: never). */
void bench_packed_irq_after(struct bench_vring *r, unsigned k);
void bench_packed_kick(struct bench_dev *d, unsigned q, uint16_t added);
unsigned bench_packed_used_count(const struct bench_vring *r);

/* bench_guest.c: run on the device's thread; stop when the clock says so. */
int bench_guest_tx(struct bench_dev *d, struct bench_clock *c);
int bench_guest_rx(struct bench_dev *d, struct bench_clock *c);
int bench_guest_rr(struct bench_dev *d, struct bench_clock *c);
/* idle: the RX buffers posted as rx posts them, interrupts asked for. */
void bench_guest_idle(struct bench_dev *d);
/* Used entries the device has published on both rings so far. */
unsigned bench_guest_used(const struct bench_dev *d);

/* bench_tap.c */
int bench_tap_open(struct bench_dev *d);
void bench_tap_close(struct bench_dev *d);
int bench_tap_stats(const char *ifname, struct bench_tapstat *s);
size_t bench_frame(uint8_t *f, size_t len, uint32_t seq);
int bench_port_sink(struct bench_dev *d, struct bench_clock *c);
int bench_port_inject(struct bench_dev *d, struct bench_clock *c);
int bench_port_echo(struct bench_dev *d, struct bench_clock *c);
int bench_raw_tx(struct bench_dev *d, struct bench_clock *c);
int bench_raw_rx(struct bench_dev *d, struct bench_clock *c);
int bench_raw_rr(struct bench_dev *d, struct bench_clock *c);

/* bench_cpu.c */
struct bench_backend {
	pid_t pid;          /* 0: none found */
	bool kernel;        /* the kernel's vhost-PID workers */
	bool kthreads;      /* ... as kernel threads, one per device (before 6.4) */
	char what[64];
};
void bench_backend_find(const struct bench_opts *o, struct bench_backend *b);
/* utime + stime of the backend's threads, in clock ticks; -1 if unknown. */
long long bench_backend_ticks(const struct bench_backend *b);
/* The same in nanoseconds, from schedstat where the kernel keeps it. */
long long bench_backend_ns(const struct bench_backend *b);

/* bench_idle.c: the idle test on devices already open; reports, returns
 * 0 or -errno. */
int bench_idle(const struct bench_opts *o, struct bench_dev *devs);

#endif
