/* SPDX-License-Identifier: MIT */
/*
 * ring_faults: the datapath seen from the guest. Plays QEMU 7.2 against a
 * vhost-net device file (usvhostd's FUSE file) with rings in its own RAM and
 * a tap per device, and plays the guest driver on those rings:
 *
 *   tx           a packet put in the TX ring comes out of the tap; the used
 *                ring gets its head with length 0; the call eventfd fires
 *                as EVENT_IDX's used_event says (and not when it says not);
 *   rx           frames sent to the tap land in posted mergeable buffers:
 *                header (num_buffers) + frame; a 9000-byte one spreads over
 *                several buffers; a frame that finds no (or too few) buffers
 *                waits, with the daemon idle and asking for a kick through
 *                avail_event, and lands once the driver posts more (the
 *                driver kicks only when avail_event says so, as a virtio
 *                driver with EVENT_IDX does);
 *   private-ram  the same with QEMU's default anonymous private RAM; once
 *                closed, the device leaves the stats file;
 *   corrupt-*    a broken ring (head >= num, a descriptor loop, avail idx
 *                moved by more than num, a buffer outside the memory table,
 *                and head >= num on RX) fires that ring's ERR eventfd and
 *                stops that ring only (stats state=broken, log "vq N
 *                stopped"), while the device's other ring and another device
 *                of the same client keep passing packets;
 *   vring-base   GET_VRING_BASE while running is the number of chains
 *                consumed; after NET_SET_BACKEND -1 it is exact and equals
 *                the used index;
 *   tx-after-reload  driver reloads as QEMU 7.2 performs them (stop, new
 *                zeroed rings, new kick eventfds already set, a late kick on
 *                the old ones), with TX and RX driven as Linux's virtio-net
 *                drives them (kicks only when avail_event asks, interrupts
 *                only at used_event, the queue stopped until an interrupt
 *                when the ring is full), alone, both ways at once and while
 *                the vectors are masked and unmasked; an interrupt due
 *                while a vector is masked lands on the masked notifier; a
 *                ring started with packets already available uses them
 *                without a kick. A missed kick or interrupt stalls the
 *                driver, and the failure says which.
 *
 *   ring_faults --dev=PATH [--stats=FILE] [--log=FILE] [--daemon-pid=PID]
 *               [-q] [SCENARIO...]
 *
 * The tap is reached from the host's side through an AF_PACKET socket bound
 * to its interface: a frame the daemon writes to the tap fd is received on
 * the interface (so the socket sees it), and a frame the socket sends on the
 * interface is what the daemon reads from the tap fd, with the 12-byte
 * virtio-net header the tap puts in front (IFF_VNET_HDR). Writing to the tap
 * fd ourselves would inject into the host's stack, not towards the daemon.
 *
 * Needs root and /dev/net/tun in a network namespace of its own (taps are
 * brought up, IPv6 is turned off so that nothing but our frames moves):
 * ring-faults.sh sets that up. Prints one line per check and "N passed,
 * N failed"; exits 0 when every check passed, 1 otherwise, 77 when it cannot
 * run here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "client_lib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024u * 1024u)
#define RAM_SIZE (16 * MiB)
/* Buffers: RX in low RAM (gpa 4 MiB), TX in high RAM (gpa 4 GiB + 4 MiB). */
#define RX_AREA (4 * MiB)
#define TX_AREA (8 * MiB + 4 * MiB)
#define TX_SLOT 0x4000u  /* one TX chain's buffers (and indirect table) */
#define TX_SLOTS 64u
#define TX_BIG (TX_AREA + 2 * MiB) /* one 56 KiB payload shared by big TX packets */
#define RX_BUF 1536u     /* one mergeable RX buffer */
#define VNET_HDR 12u     /* struct virtio_net_hdr_mrg_rxbuf */
#define ETH_TX 0x88b5    /* IEEE local experimental ethertypes */
#define ETH_RX 0x88b6
#define BIG_FRAME 9000u

#define VQ_RX USV_VQ_RX
#define VQ_TX USV_VQ_TX
#define NUM CL_RING_NUM

static const char *dev_path, *stats_path, *log_path;
static pid_t daemon_pid;     /* --daemon-pid: for its CPU time */
static unsigned tap_names;   /* taps renamed rf1, rf2, ... */

/* One QEMU-driven device and the guest driver's view of its rings. */
struct rdev {
	struct cl_dev d;
	struct cl_ram ram;
	bool inited, ram_ok, open, started;
	const char *tag;
	struct cl_port port;    /* the tap's interface and a socket on it */
	uint16_t avail[USV_NET_NVQS]; /* driver's avail idx */
	uint16_t used[USV_NET_NVQS];  /* used entries consumed so far */
	uint16_t base[USV_NET_NVQS];  /* SET_VRING_BASE at the start */
	uint16_t used_start[USV_NET_NVQS]; /* used idx at the start */
	unsigned tx_desc;       /* next TX descriptor, cycling */
	unsigned tx_slot;       /* next TX buffer slot, cycling */
	uint16_t rx_posted;     /* RX buffers made available (free-running) */
	uint32_t seq;           /* frame sequence numbers */
	uint32_t rx_seq;        /* those of RX streams */
};

/* ---- the guest driver's side (primitives: client_lib.h) ------------------ */

static uint8_t *ram_at(struct rdev *x, size_t off)
{
	return x->ram.base + off;
}

static uint64_t gpa_at(struct rdev *x, size_t off)
{
	return cl_ram_gpa(&x->ram, off);
}

/* Chains the device has consumed on vq, as the used ring shows them. */
static uint16_t consumed(const struct rdev *x, unsigned vq)
{
	return (uint16_t)(x->used[vq] - x->used_start[vq]);
}

/* Where the device's last_avail_idx must be: base + chains consumed. */
static uint16_t position(const struct rdev *x, unsigned vq)
{
	return (uint16_t)(x->base[vq] + consumed(x, vq));
}

static struct cl_vdesc *desc_table(struct rdev *x, unsigned vq)
{
	return x->d.ring[vq].desc;
}

/* Makes head available and publishes the new avail idx. */
static void post(struct rdev *x, unsigned vq, uint16_t head)
{
	cl_post(&x->d.ring[vq], &x->avail[vq], head);
}

/* used_event (EVENT_IDX): interrupt me once the used idx passes v. */
static void set_used_event(struct rdev *x, unsigned vq, uint16_t v)
{
	cl_set_used_event(&x->d.ring[vq], v);
}

static void kick(struct rdev *x, unsigned vq)
{
	cl_kick(x->d.kick[vq], x->tag, vq);
}

/* avail_event (EVENT_IDX): the device wants a kick once avail idx passes it. */
static uint16_t avail_event(struct rdev *x, unsigned vq)
{
	return cl_load16((const uint16_t *)&x->d.ring[vq].used->ring[NUM]);
}

/*
 * Kicks as a virtio driver with EVENT_IDX does: only when the avail idx
 * moved past the device's avail_event since old. A device that forgets to
 * ask (re-enable notifications when it runs dry) stalls such a driver, so
 * the packet checks after it fail. Returns whether it kicked.
 */
static bool kick_as_driver(struct rdev *x, unsigned vq, uint16_t old)
{
	uint16_t ev, now = x->avail[vq];

	/* The avail idx store before the avail_event load (virtio_mb). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ev = avail_event(x, vq);
	if ((uint16_t)(now - ev - 1) < (uint16_t)(now - old)) {
		kick(x, vq);
		return true;
	}
	return false;
}

static uint16_t used_idx(struct rdev *x, unsigned vq)
{
	return cl_used_idx(&x->d.ring[vq]);
}

/* Waits at most ms for the used idx to reach want; returns what it is. */
static uint16_t wait_used(struct rdev *x, unsigned vq, uint16_t want, unsigned ms)
{
	uint64_t end = cl_now_ms() + ms;
	uint16_t from = x->used[vq], v;

	for (;;) {
		v = used_idx(x, vq);
		if ((uint16_t)(v - from) >= (uint16_t)(want - from) || cl_now_ms() > end)
			return v;
		cl_sleep_ms(1);
	}
}

static struct cl_vring_used_elem used_elem(struct rdev *x, unsigned vq, uint16_t idx)
{
	return cl_used_elem(&x->d.ring[vq], idx);
}

/* The daemon's CPU time (user + system) in ms, or -1 when unknown. */
static long daemon_cpu_ms(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	if (daemon_pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)daemon_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* The daemon sleeps while there is nothing it can do: over a window of
 * ms it uses less than half a CPU (a spinning worker uses a whole one). */
static void check_daemon_idle(const char *tag, const char *when, unsigned ms)
{
	long a = daemon_cpu_ms(), b;

	cl_sleep_ms(ms);
	b = daemon_cpu_ms();
	if (a < 0 || b < 0)
		return;
	cl_check(b - a < (long)ms / 2, "%s: %s: the daemon used %ld ms of CPU in %u ms",
		 tag, when, b - a, ms);
}

/* ---- the tap's host side ------------------------------------------------ */

/* Names the tap, turns IPv6 off on it (no router solicitations or MLD
 * reports reaching the guest's RX ring), sets its MTU (room for the
 * 9000-byte frame the RX case sends), brings it up, and binds an AF_PACKET
 * socket to it. The kernel reuses tapN names (and the daemon its device
 * handles): a name of our own tells this device's stats lines from those
 * of devices closed before. */
static bool tap_host_side(struct rdev *x)
{
	char name[IFNAMSIZ];
	struct cl_port_opts o = { .name = name, .mtu = BIG_FRAME, .no_ipv6 = true };

	snprintf(name, sizeof(name), "rf%u", ++tap_names);
	return cl_port_open(&x->port, x->d.tap, &o, x->tag);
}

/* Sends a frame out of the tap's interface: what the daemon reads. */
static bool tap_send(struct rdev *x, const uint8_t *f, size_t len)
{
	return cl_port_send(&x->port, f, len, x->tag);
}

/* Receives the next frame of this ethertype the interface got (from the
 * daemon's writes), at most ms; its length, or -1. */
static ssize_t tap_recv(struct rdev *x, uint16_t ethertype, uint8_t *buf, size_t cap,
			unsigned ms)
{
	return cl_port_recv(&x->port, ethertype, 0, buf, cap, ms);
}

static void tap_drain(struct rdev *x)
{
	cl_port_drain(&x->port);
}

/* ---- devices ------------------------------------------------------------- */

static void rdev_close(struct rdev *x)
{
	if (!x->inited)
		return;
	cl_port_close(&x->port);
	if (x->open)
		cl_dev_close(&x->d);
	x->open = false;
	if (x->ram_ok)
		cl_ram_fini(&x->ram);
	x->ram_ok = false;
}

/* Opens the device, its tap and RAM, and runs QEMU's init. */
static bool rdev_open(struct rdev *x, const char *tag, enum cl_ram_kind kind)
{
	memset(x, 0, sizeof(*x));
	x->inited = true;
	x->tag = tag;
	x->port.pkt = -1;
	x->ram_ok = cl_ram_init(&x->ram, kind, RAM_SIZE);
	if (!x->ram_ok)
		return false;
	x->open = cl_dev_open(&x->d, dev_path, &x->ram, tag);
	if (!x->open)
		return false;
	if (!tap_host_side(x))
		return false;
	return cl_qemu_init(&x->d);
}

/* QEMU's DRIVER_OK sequence (client_lib: used idx starts at 7). */
static bool rdev_start(struct rdev *x)
{
	/* Nothing queued in the tap before the guest starts. */
	uint8_t b[64];

	while (read(x->d.tap, b, sizeof(b)) > 0)
		;
	tap_drain(x);
	if (!cl_qemu_start(&x->d, 0))
		return false;
	x->started = true;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x->avail[vq] = x->base[vq] = 0;
		x->used[vq] = x->used_start[vq] = 7;
	}
	return true;
}

/* The same start with a base of our choosing and the used idx equal to it
 * (a quiesced ring, as after a migration). */
static bool rdev_start_at(struct rdev *x, uint16_t base)
{
	uint64_t bf = CL_BACKEND_FEATURES;
	unsigned gen = x->d.gen++;
	bool ok = true;

	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x->d.call[vq] = cl_eventfd();
		ok &= cl_vring_file(x->d.fd, USV_VHOST_SET_VRING_CALL, vq, x->d.call[vq], 0,
				    x->tag);
	}
	ok &= cl_set_features(x->d.fd, CL_QEMU_FEATURES, 0, x->tag);
	ok &= cl_ioctl(x->d.fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, 0,
		       "%s: SET_BACKEND_FEATURES", x->tag);
	ok &= cl_set_mem_table(x->d.fd, &x->ram, x->tag);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x->d.kick[vq] = cl_eventfd();
		cl_ring_place(&x->ram, vq, gen, &x->d.ring[vq]);
		cl_ring_prepare(&x->d.ring[vq], base, base);
		x->d.base[vq] = base;
		ok &= cl_setup_ring(x->d.fd, vq, &x->d.ring[vq], base, x->d.kick[vq], x->tag);
		x->avail[vq] = x->used[vq] = x->base[vq] = x->used_start[vq] = base;
	}
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		ok &= cl_attach(x->d.fd, vq, x->d.tap, 0, x->tag, "tap");
	x->started = ok;
	return ok;
}

/* ---- TX -------------------------------------------------------------------- */

enum tx_layout { TX_ONE, TX_TWO, TX_INDIRECT };

/* Puts one packet (zeroed header + frame) in the TX ring as the layout says;
 * returns its head. */
static uint16_t tx_post(struct rdev *x, const uint8_t *frame, size_t len, enum tx_layout how)
{
	struct cl_vdesc *t = desc_table(x, VQ_TX);
	size_t off = TX_AREA + (size_t)(x->tx_slot++ % TX_SLOTS) * TX_SLOT;
	uint8_t *p = ram_at(x, off);
	uint16_t head = (uint16_t)(x->tx_desc++ % NUM);

	memset(p, 0, VNET_HDR);
	memcpy(p + VNET_HDR, frame, len);
	switch (how) {
	case TX_ONE:
		cl_put_desc(t, head, gpa_at(x, off), (uint32_t)(VNET_HDR + len), 0, 0);
		break;
	case TX_TWO: {
		uint16_t second = (uint16_t)(x->tx_desc++ % NUM);

		cl_put_desc(t, head, gpa_at(x, off), VNET_HDR, CL_D_NEXT, second);
		cl_put_desc(t, second, gpa_at(x, off + VNET_HDR), (uint32_t)len, 0, 0);
		break;
	}
	case TX_INDIRECT: {
		/* [header][first 20 bytes][the rest], the table after them. */
		size_t toff = off + ((VNET_HDR + len + 15) & ~(size_t)15);
		struct cl_vdesc *ind = (struct cl_vdesc *)ram_at(x, toff);

		cl_put_desc(ind, 0, gpa_at(x, off), VNET_HDR, CL_D_NEXT, 1);
		cl_put_desc(ind, 1, gpa_at(x, off + VNET_HDR), 20, CL_D_NEXT, 2);
		cl_put_desc(ind, 2, gpa_at(x, off + VNET_HDR + 20), (uint32_t)(len - 20), 0, 0);
		cl_put_desc(t, head, gpa_at(x, toff), 3 * sizeof(struct cl_vdesc), CL_D_INDIRECT, 0);
		break;
	}
	}
	post(x, VQ_TX, head);
	return head;
}

/*
 * One TX packet: put in the ring, kicked; it must come out of the tap with
 * the same bytes, and the used ring must get its head with length 0. With
 * signal, used_event asks for an interrupt at this entry and the call
 * eventfd must fire; without, used_event is far ahead and it must not.
 */
static bool tx_one(struct rdev *x, size_t len, enum tx_layout how, bool signal,
		   const char *what)
{
	static uint8_t frame[BIG_FRAME], got[BIG_FRAME + 64];
	uint32_t seq = ++x->seq;
	uint16_t want = (uint16_t)(x->used[VQ_TX] + 1), head, u, old = x->avail[VQ_TX];
	struct cl_vring_used_elem e;
	ssize_t n;
	bool ok = true, fired;

	cl_make_frame(frame, len, ETH_TX, seq);
	cl_efd_drain(x->d.call[VQ_TX]);
	set_used_event(x, VQ_TX, signal ? x->used[VQ_TX] : (uint16_t)(x->used[VQ_TX] + 100));
	head = tx_post(x, frame, len, how);
	kick_as_driver(x, VQ_TX, old);

	n = tap_recv(x, ETH_TX, got, sizeof(got), cl_scaled(2000));
	ok &= cl_check(n == (ssize_t)len, "%s: TX %s: the tap delivered %zd bytes, expected %zu",
		       x->tag, what, n, len);
	if (n == (ssize_t)len)
		ok &= cl_check(!memcmp(got, frame, len),
			       "%s: TX %s: the frame from the tap has the guest's bytes",
			       x->tag, what);
	u = wait_used(x, VQ_TX, want, cl_scaled(2000));
	ok &= cl_check(u == want, "%s: TX %s: used idx %u, expected %u", x->tag, what, u, want);
	e = used_elem(x, VQ_TX, x->used[VQ_TX]);
	ok &= cl_check(e.id == head && e.len == 0,
		       "%s: TX %s: used entry {id %u, len %u}, expected {%u, 0}", x->tag,
		       what, e.id, e.len, head);
	if (u == want)
		x->used[VQ_TX] = want;
	fired = cl_efd_wait(x->d.call[VQ_TX], cl_scaled(signal ? 2000 : 200), NULL);
	if (signal)
		ok &= cl_check(fired, "%s: TX %s: call eventfd fired (used_event = %u)",
			       x->tag, what, (uint16_t)(want - 1));
	else
		ok &= cl_check(!fired, "%s: TX %s: call eventfd stays quiet (used_event "
			       "%u ahead)", x->tag, what, 100);
	return ok;
}

/* ---- RX -------------------------------------------------------------------- */

static size_t rx_buf_off(uint16_t head)
{
	return RX_AREA + (size_t)head * RX_BUF;
}

/* Makes n more RX buffers (one writable descriptor of RX_BUF bytes each,
 * filled with 0xaa) available; head = their avail slot. */
static void rx_post(struct rdev *x, unsigned n)
{
	struct cl_vdesc *t = desc_table(x, VQ_RX);

	for (unsigned i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(x->avail[VQ_RX] % NUM);

		memset(ram_at(x, rx_buf_off(head)), 0xaa, RX_BUF);
		cl_put_desc(t, head, gpa_at(x, rx_buf_off(head)), RX_BUF, CL_D_WRITE, 0);
		post(x, VQ_RX, head);
		x->rx_posted++;
	}
}

/*
 * One frame sent to the tap: it must land in the next posted buffers, as
 * many as 12 + len needs, each used entry with the bytes it holds, the first
 * starting with the header (num_buffers = that count) and the frame after
 * it; the call eventfd must fire (used_event = the used idx before).
 */
/*
 * early < 0: buffers are posted (as needed) before the frame is sent.
 * early >= 0: none is left, early buffers (fewer than needed) are posted,
 * the frame is sent; nothing may be used while it does not fit, and the
 * device must ask for a kick (avail_event); the rest are posted then, and a
 * driver obeying avail_event kicks.
 */
static bool rx_frame(struct rdev *x, size_t len, int early, const char *what)
{
	static uint8_t frame[BIG_FRAME], got[BIG_FRAME + VNET_HDR];
	size_t total = VNET_HDR + len, at = 0;
	unsigned need = (unsigned)((total + RX_BUF - 1) / RX_BUF);
	uint32_t seq = ++x->seq;
	uint16_t first = x->used[VQ_RX], want = (uint16_t)(first + need), u, nb;
	uint16_t pos = position(x, VQ_RX), ready = (uint16_t)(x->avail[VQ_RX] - pos);
	uint16_t old = x->avail[VQ_RX];
	bool ok = true, fired;

	cl_make_frame(frame, len, ETH_RX, seq);
	cl_efd_drain(x->d.call[VQ_RX]);
	set_used_event(x, VQ_RX, first);
	if (early >= 0) {
		if (!cl_check(ready == 0 && (unsigned)early < need, "%s: RX %s: no buffer "
			      "left, %d posted of %u (test self-check)", x->tag, what, early,
			      need))
			return false;
		rx_post(x, (unsigned)early);
		kick_as_driver(x, VQ_RX, old);
		if (!tap_send(x, frame, len))
			return false;
		{
			char when[160];

			snprintf(when, sizeof(when), "RX %s: the frame does not fit yet", what);
			check_daemon_idle(x->tag, when, cl_scaled(500));
		}
		u = used_idx(x, VQ_RX);
		ok &= cl_check(u == first, "%s: RX %s: while the frame does not fit nothing "
			       "is used (used idx %u, expected %u)", x->tag, what, u, first);
		ok &= cl_check(avail_event(x, VQ_RX) == x->avail[VQ_RX],
			       "%s: RX %s: short of buffers, avail_event %u = avail idx %u",
			       x->tag, what, avail_event(x, VQ_RX), x->avail[VQ_RX]);
		old = x->avail[VQ_RX];
		rx_post(x, need - (unsigned)early);
		ok &= cl_check(kick_as_driver(x, VQ_RX, old), "%s: RX %s: posting the rest "
			       "passes avail_event: the driver kicks", x->tag, what);
	} else {
		if (ready < need)
			rx_post(x, need - ready);
		kick_as_driver(x, VQ_RX, old);
		if (!tap_send(x, frame, len))
			return false;
	}
	u = wait_used(x, VQ_RX, want, cl_scaled(2000));
	ok &= cl_check(u == want, "%s: RX %s: used idx %u, expected %u (%u buffer%s)",
		       x->tag, what, u, want, need, need == 1 ? "" : "s");
	if (u != want)
		return false;
	for (unsigned i = 0; i < need; i++) {
		uint16_t idx = (uint16_t)(first + i);
		struct cl_vring_used_elem e = used_elem(x, VQ_RX, idx);
		/* Buffers are used in the order they were made available. */
		uint16_t head = (uint16_t)((uint16_t)(pos + i) % NUM);
		uint32_t l = i + 1 < need ? RX_BUF : (uint32_t)(total - (size_t)RX_BUF * i);

		ok &= cl_check(e.id == head && e.len == l,
			       "%s: RX %s: used entry %u of %u {id %u, len %u}, expected "
			       "{%u, %u}", x->tag, what, i + 1, need, e.id, e.len, head, l);
		if (e.len <= RX_BUF && at + e.len <= sizeof(got)) {
			memcpy(got + at, ram_at(x, rx_buf_off(head)), e.len);
			at += e.len;
		}
	}
	x->used[VQ_RX] = want;
	ok &= cl_check(at == total, "%s: RX %s: %zu bytes in the buffers, expected %zu",
		       x->tag, what, at, total);
	memcpy(&nb, got + 10, sizeof(nb));
	ok &= cl_check(nb == need, "%s: RX %s: num_buffers %u, expected %u", x->tag, what,
		       nb, need);
	{
		static const uint8_t zero[10];

		/* What the tap says of a frame sent without offloads. */
		ok &= cl_check(!memcmp(got, zero, sizeof(zero)),
			       "%s: RX %s: virtio_net_hdr flags/gso/csum fields are zero",
			       x->tag, what);
	}
	if (at == total)
		ok &= cl_check(!memcmp(got + VNET_HDR, frame, len),
			       "%s: RX %s: the frame after the header has the bytes sent",
			       x->tag, what);
	fired = cl_efd_wait(x->d.call[VQ_RX], cl_scaled(2000), NULL);
	ok &= cl_check(fired, "%s: RX %s: call eventfd fired (used_event = %u)", x->tag,
		       what, first);
	return ok;
}

static bool rx_one(struct rdev *x, size_t len, const char *what)
{
	return rx_frame(x, len, -1, what);
}

/* Uses up the posted RX buffers; then a frame arrives with only early
 * buffers (fewer than it needs) posted. */
static bool rx_when_dry(struct rdev *x, size_t len, int early, const char *what)
{
	while ((uint16_t)(x->avail[VQ_RX] - position(x, VQ_RX)) > 0)
		if (!rx_one(x, 100, "using up the posted buffers"))
			return false;
	return rx_frame(x, len, early, what);
}

/* ---- stats and log ------------------------------------------------------- */

/* The stats line of this device's ring vq (found by its tap's name). */
static bool stats_line(struct rdev *x, unsigned vq, char *out, size_t n)
{
	char line[512], want_vq[16], want_be[64];
	bool found = false;
	FILE *f;

	if (!stats_path || !(f = fopen(stats_path, "re")))
		return false;
	snprintf(want_vq, sizeof(want_vq), " vq=%u ", vq);
	snprintf(want_be, sizeof(want_be), " backend=tap:%s ", x->port.ifname);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, want_vq) && strstr(line, want_be)) {
			snprintf(out, n, "%s", line);
			out[strcspn(out, "\n")] = '\0';
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* The ring is reported stopped: state=broken in the stats file and
 * "dev H: vq N stopped" in the daemon's log (each checked when given). */
static void check_reported_broken(struct rdev *x, unsigned vq)
{
	char line[512] = "", needle[64];
	uint64_t end = cl_now_ms() + cl_scaled(5000);
	unsigned handle = 0;
	bool broken = false, have = false;

	if (!stats_path && !log_path) {
		cl_check(false, "%s: vq %u: neither --stats nor --log given: cannot see the "
			 "ring stopped", x->tag, vq);
		return;
	}
	/* The stats file is rewritten every second. */
	if (stats_path) {
		do {
			have = stats_line(x, vq, line, sizeof(line));
			broken = have && strstr(line, " state=broken ");
			if (!broken)
				cl_sleep_ms(50);
		} while (!broken && cl_now_ms() < end);
		cl_check(broken, "%s: vq %u: stats say state=broken (line: %s)", x->tag, vq,
			 have ? line : "none for this tap");
		if (have)
			sscanf(line, "dev=%u", &handle);
	}
	if (log_path && (have || !stats_path)) {
		if (have)
			snprintf(needle, sizeof(needle), "dev %u: vq %u stopped", handle, vq);
		else
			snprintf(needle, sizeof(needle), "vq %u stopped", vq);
		while (!cl_file_has(log_path, needle) && cl_now_ms() < end)
			cl_sleep_ms(50);
		cl_check(cl_file_has(log_path, needle), "%s: vq %u: the daemon log says \"%s\"",
			 x->tag, vq, needle);
	}
}

static void check_running(struct rdev *x, unsigned vq)
{
	char line[512] = "";
	bool have;

	if (!stats_path)
		return;
	/* Rewritten every second: wait for a line of this tap first. */
	for (uint64_t end = cl_now_ms() + cl_scaled(3000);
	     !(have = stats_line(x, vq, line, sizeof(line))) && cl_now_ms() < end;)
		cl_sleep_ms(50);
	cl_check(have && strstr(line, " state=running "),
		 "%s: vq %u: stats say state=running (line: %s)", x->tag, vq,
		 have ? line : "none for this tap");
}

/* A closed device leaves the stats file (its counters go to "released"). */
static void check_released(const char *tag, const char *ifname, uint64_t packets_tx)
{
	char line[512], want_be[64], *p;
	uint64_t end = cl_now_ms() + cl_scaled(3000), released = 0;
	bool listed = true;
	FILE *f;

	if (!stats_path)
		return;
	snprintf(want_be, sizeof(want_be), " backend=tap:%s ", ifname);
	do {
		if (!(f = fopen(stats_path, "re")))
			break;
		listed = false;
		released = 0;
		while (fgets(line, sizeof(line), f)) {
			if (strstr(line, want_be))
				listed = true;
			if (!strncmp(line, "released vq=1 ", 14) &&
			    (p = strstr(line, " packets=")))
				released = strtoull(p + 9, NULL, 10);
		}
		fclose(f);
		if (listed || released < packets_tx)
			cl_sleep_ms(100);
	} while ((listed || released < packets_tx) && cl_now_ms() < end);
	/* (usvhost once lost the datapath's per-device state at release: the
	 * core reset the rings before the datapath freed that state.) */
	cl_check(!listed, "%s: closed: its rings left the stats file (tap %s)", tag, ifname);
	cl_check(released >= packets_tx, "%s: closed: \"released vq=1\" counts its %llu "
		 "TX packets (shows %llu in all)", tag, (unsigned long long)packets_tx,
		 (unsigned long long)released);
}

/* ---- stop ------------------------------------------------------------------ */

/* NET_SET_BACKEND -1 for both rings; GET_VRING_BASE must be the chains the
 * guest saw consumed (the used idx moved by as much), then CALL back. */
static void rdev_stop(struct rdev *x, const uint16_t *want_base)
{
	if (!x->started)
		return;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		cl_attach(x->d.fd, vq, -1, 0, x->tag, "-1");
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		uint16_t w = want_base ? want_base[vq] : position(x, vq);

		cl_expect_base(x->d.fd, vq, w, x->tag);
	}
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		cl_vring_file(x->d.fd, USV_VHOST_SET_VRING_CALL, vq, x->d.init_call[vq], 0,
			      x->tag);
	x->started = false;
}

/* ---- scenarios -------------------------------------------------------------- */

static struct rdev healthy; /* device A: stays up through every scenario */

static bool healthy_up(void)
{
	static bool tried, ok;

	if (!tried) {
		tried = true;
		ok = rdev_open(&healthy, "device A", CL_RAM_MEMFD) && rdev_start(&healthy);
	}
	return ok;
}

/* Device A still moves packets both ways. */
static void healthy_passes(const char *after)
{
	char what[96];

	if (!cl_check(healthy_up(), "device A is up"))
		return;
	snprintf(what, sizeof(what), "after %s", after);
	tx_one(&healthy, 200, TX_ONE, true, what);
	rx_one(&healthy, 200, what);
}

static void scenario_tx(void)
{
	if (!cl_check(healthy_up(), "device A is up"))
		return;
	check_running(&healthy, VQ_TX);
	tx_one(&healthy, 60, TX_ONE, true, "60-byte frame, one descriptor");
	tx_one(&healthy, 1514, TX_TWO, true, "1514-byte frame, header and frame descriptors");
	tx_one(&healthy, 300, TX_ONE, false, "used_event not reached");
	tx_one(&healthy, 400, TX_ONE, true, "used_event reached again");
	tx_one(&healthy, 800, TX_INDIRECT, true, "indirect table of 3");
	tx_one(&healthy, BIG_FRAME, TX_TWO, true, "9000-byte frame");
	/* Idle again: notifications re-enabled, avail_event = avail idx. */
	cl_check(avail_event(&healthy, VQ_TX) == healthy.avail[VQ_TX],
		 "device A: TX idle: avail_event %u = avail idx %u (kicks wanted again)",
		 avail_event(&healthy, VQ_TX), healthy.avail[VQ_TX]);
}

static void scenario_rx(void)
{
	if (!cl_check(healthy_up(), "device A is up"))
		return;
	check_running(&healthy, VQ_RX);
	/* 8 mergeable buffers of 1536 bytes up front, as a driver does; the
	 * ring was empty, so the device asked for this kick. */
	{
		uint16_t old = healthy.avail[VQ_RX];

		rx_post(&healthy, 8);
		cl_check(kick_as_driver(&healthy, VQ_RX, old),
			 "device A: RX: avail_event asks for a kick when the empty ring is "
			 "filled (avail_event %u)", avail_event(&healthy, VQ_RX));
	}
	rx_one(&healthy, 100, "100-byte frame");
	rx_one(&healthy, 1514, "1514-byte frame");
	rx_one(&healthy, BIG_FRAME, "9000-byte frame over several buffers");
	rx_one(&healthy, 60, "60-byte frame after it");
	rx_when_dry(&healthy, 700, 0, "700-byte frame before any buffer");
	rx_when_dry(&healthy, 3000, 0, "3000-byte frame before any buffer");
	rx_when_dry(&healthy, BIG_FRAME, 2, "9000-byte frame held: 2 of 6 buffers");
	rx_one(&healthy, 100, "100-byte frame after the held one");
}

static void scenario_private_ram(void)
{
	struct rdev b;

	if (rdev_open(&b, "device B (private RAM)", CL_RAM_ANON_PRIV) && rdev_start(&b)) {
		tx_one(&b, 100, TX_ONE, true, "100-byte frame");
		tx_one(&b, 1514, TX_INDIRECT, true, "indirect table of 3");
		rx_post(&b, 8);
		rx_one(&b, 1000, "1000-byte frame");
		rx_one(&b, BIG_FRAME, "9000-byte frame over several buffers");
		rdev_stop(&b, NULL);
	}
	{
		char ifname[IFNAMSIZ];
		bool started = b.port.ifname[0] && consumed(&b, VQ_TX);

		snprintf(ifname, sizeof(ifname), "%s", b.port.ifname);
		rdev_close(&b);
		if (started)
			check_released("device B", ifname, 2);
	}
}

enum corruption { C_HEAD, C_LOOP, C_AVAIL_JUMP, C_ADDR, C_RX_HEAD };

static const char *const corruption_name[] = {
	[C_HEAD] = "head >= num in the TX avail ring",
	[C_LOOP] = "a descriptor loop in the TX ring",
	[C_AVAIL_JUMP] = "TX avail idx moved by num + 1",
	[C_ADDR] = "a TX buffer outside the memory table",
	[C_RX_HEAD] = "head >= num in the RX avail ring",
};

/*
 * A device whose guest breaks one ring after one good packet on it: the
 * ring's ERR eventfd fires, the ring stops (stats, log) and takes nothing
 * more, its position stays at the good packet; the device's other ring and
 * device A keep working.
 */
static void corrupt(enum corruption c, const char *tag)
{
	unsigned vq = c == C_RX_HEAD ? VQ_RX : VQ_TX, other = vq == VQ_TX ? VQ_RX : VQ_TX;
	const char *what = corruption_name[c];
	struct cl_vdesc *t;
	uint16_t stopped_at, want_base[USV_NET_NVQS];
	uint64_t cnt = 0;
	struct rdev x;

	if (!rdev_open(&x, tag, CL_RAM_MEMFD) || !rdev_start(&x)) {
		rdev_close(&x);
		return;
	}
	t = desc_table(&x, vq);
	/* One good packet first, on the ring about to break. */
	if (vq == VQ_TX) {
		tx_one(&x, 100, TX_ONE, true, "before the corruption");
	} else {
		rx_post(&x, 1);
		rx_one(&x, 100, "before the corruption");
	}
	cl_check(!cl_efd_wait(x.d.init_err[vq], 0, NULL),
		 "%s: ERR eventfd of vq %u quiet before the corruption", tag, vq);
	stopped_at = x.avail[vq];
	switch (c) {
	case C_HEAD:
	case C_RX_HEAD:
		post(&x, vq, NUM);
		break;
	case C_LOOP:
		cl_put_desc(t, 10, gpa_at(&x, TX_AREA), 64, CL_D_NEXT, 11);
		cl_put_desc(t, 11, gpa_at(&x, TX_AREA), 64, CL_D_NEXT, 10);
		post(&x, vq, 10);
		break;
	case C_AVAIL_JUMP:
		x.avail[vq] = (uint16_t)(x.avail[vq] + NUM + 1);
		__atomic_store_n(&x.d.ring[vq].avail->idx, x.avail[vq], __ATOMIC_RELEASE);
		break;
	case C_ADDR:
		/* RAM is [0, 8 MiB) and [4 GiB, 4 GiB + 8 MiB). */
		cl_put_desc(t, 20, 0x300000000ULL, 128, 0, 0);
		post(&x, vq, 20);
		break;
	}
	kick(&x, vq);
	cl_check(cl_efd_wait(x.d.init_err[vq], cl_scaled(2000), &cnt),
		 "%s: %s: ERR eventfd of vq %u fired within %u ms", tag, what, vq,
		 cl_scaled(2000));
	check_reported_broken(&x, vq);
	check_daemon_idle(tag, "a ring broken", cl_scaled(300));
	cl_check(!cl_efd_wait(x.d.init_err[other], 0, NULL),
		 "%s: ERR eventfd of vq %u (the other ring) stays quiet", tag, other);

	/* The broken ring takes nothing more, even a good chain. */
	{
		uint16_t u0 = used_idx(&x, vq);

		/* Even with the bad slot repaired the ring stays stopped. */
		if (c == C_HEAD || c == C_RX_HEAD)
			x.d.ring[vq].avail->ring[(uint16_t)(x.avail[vq] - 1) % NUM] = 0;
		if (vq == VQ_TX) {
			uint8_t f[100];

			cl_make_frame(f, sizeof(f), ETH_TX, 999);
			tx_post(&x, f, sizeof(f), TX_ONE);
		} else {
			rx_post(&x, 2);
			tap_send(&x, (const uint8_t[60]){ [12] = ETH_RX >> 8, [13] = ETH_RX & 0xff }, 60);
		}
		kick(&x, vq);
		cl_sleep_ms(cl_scaled(300));
		cl_check(used_idx(&x, vq) == u0, "%s: the stopped vq %u used nothing more "
			 "(used idx %u, was %u)", tag, vq, used_idx(&x, vq), u0);
		if (vq == VQ_TX) {
			uint8_t b[256];

			cl_check(tap_recv(&x, ETH_TX, b, sizeof(b), 0) < 0,
				 "%s: the stopped TX ring sent nothing to the tap", tag);
		}
		cl_check(!cl_efd_wait(x.d.init_err[vq], 0, NULL),
			 "%s: ERR eventfd of vq %u fired once, not again", tag, vq);
	}
	/* The device's other ring still works. */
	if (other == VQ_TX) {
		tx_one(&x, 150, TX_ONE, true, "on the other ring of the broken device");
	} else {
		rx_one(&x, 150, "on the other ring of the broken device");
	}
	/* Stopped where the bad chain is: the good packet counted, no more. */
	cl_check(position(&x, vq) == stopped_at, "%s: vq %u: the guest saw %u chains "
		 "used before the corruption (test self-check)", tag, vq, consumed(&x, vq));
	want_base[vq] = stopped_at;
	want_base[other] = position(&x, other);
	rdev_stop(&x, want_base);
	cl_check(used_idx(&x, vq) == (uint16_t)(7 + (stopped_at - x.base[vq])),
		 "%s: vq %u used idx %u = 7 + the good chains", tag, vq, used_idx(&x, vq));
	rdev_close(&x);
	healthy_passes(what);
}

static void scenario_corrupt_head(void)
{
	corrupt(C_HEAD, "corrupt head");
}

static void scenario_corrupt_loop(void)
{
	corrupt(C_LOOP, "corrupt loop");
}

static void scenario_corrupt_avail(void)
{
	corrupt(C_AVAIL_JUMP, "corrupt avail idx");
}

static void scenario_corrupt_addr(void)
{
	corrupt(C_ADDR, "corrupt address");
}

static void scenario_corrupt_rx(void)
{
	corrupt(C_RX_HEAD, "corrupt RX head");
}

/*
 * GET_VRING_BASE: while running, the chains consumed (the datapath's
 * position, fetched); after NET_SET_BACKEND -1, exact and equal to the used
 * idx. Base and used idx start at 0xfffa so both wrap on the way.
 */
static void scenario_vring_base(void)
{
	const uint16_t base = 0xfffa;
	struct usv_vhost_vring_state s;
	struct rdev g;
	uint16_t u, got;
	unsigned frames = 0;

	if (!rdev_open(&g, "device G", CL_RAM_MEMFD) || !rdev_start_at(&g, base)) {
		rdev_close(&g);
		return;
	}
	tap_drain(&g);
	/* RX buffers posted, nothing received: none consumed. */
	rx_post(&g, 4);
	kick(&g, VQ_RX);
	cl_sleep_ms(cl_scaled(100));
	cl_expect_base(g.d.fd, VQ_RX, base, "device G (RX running, no frame)");
	rx_one(&g, 500, "one frame");
	cl_expect_base(g.d.fd, VQ_RX, (uint16_t)(base + 1), "device G (RX running, 1 frame)");

	/* 10 packets in one go, one kick. */
	for (unsigned i = 0; i < 10; i++) {
		uint8_t f[128];

		cl_make_frame(f, sizeof(f), ETH_TX, 1000 + i);
		tx_post(&g, f, sizeof(f), i % 2 ? TX_TWO : TX_ONE);
	}
	kick(&g, VQ_TX);
	u = wait_used(&g, VQ_TX, (uint16_t)(base + 10), cl_scaled(2000));
	cl_check(u == (uint16_t)(base + 10), "device G: TX used idx %u after 10 packets, "
		 "expected %u", u, (uint16_t)(base + 10));
	cl_expect_base(g.d.fd, VQ_TX, (uint16_t)(base + 10), "device G (TX running, 10 used)");
	/* 20 more, and the position asked for at once: somewhere in between. */
	for (unsigned i = 0; i < 20; i++) {
		uint8_t f[128];

		cl_make_frame(f, sizeof(f), ETH_TX, 2000 + i);
		tx_post(&g, f, sizeof(f), TX_ONE);
	}
	kick(&g, VQ_TX);
	s = (struct usv_vhost_vring_state){ .index = VQ_TX, .num = 0xdeadbeef };
	cl_ioctl(g.d.fd, USV_VHOST_GET_VRING_BASE, &s, 0, "device G: GET_VRING_BASE vq 1 "
		 "while 20 packets go");
	got = (uint16_t)s.num;
	cl_check(s.num <= 0xffff && (uint16_t)(got - base) >= 10 && (uint16_t)(got - base) <= 30,
		 "device G: GET_VRING_BASE while running = %u, expected %u..%u", s.num,
		 (uint16_t)(base + 10), (uint16_t)(base + 30));
	/* Stop TX: exact, and equal to the used idx. */
	cl_attach(g.d.fd, VQ_TX, -1, 0, "device G", "-1 (TX)");
	s = (struct usv_vhost_vring_state){ .index = VQ_TX, .num = 0xdeadbeef };
	cl_ioctl(g.d.fd, USV_VHOST_GET_VRING_BASE, &s, 0, "device G: GET_VRING_BASE vq 1 "
		 "after NET_SET_BACKEND -1");
	u = used_idx(&g, VQ_TX);
	cl_check(s.num == u, "device G: GET_VRING_BASE vq 1 = %u after the stop, used idx %u: "
		 "expected equal", s.num, u);
	cl_check((uint16_t)(s.num - got) < 0x8000, "device G: GET_VRING_BASE after the stop "
		 "(%u) is not behind the one while running (%u)", s.num, got);
	/* One packet per chain consumed reached the tap. */
	{
		uint8_t b[256];
		unsigned want = (uint16_t)(s.num - base);

		while (frames < want && tap_recv(&g, ETH_TX, b, sizeof(b), cl_scaled(1000)) > 0)
			frames++;
		while (tap_recv(&g, ETH_TX, b, sizeof(b), cl_scaled(100)) > 0)
			frames++;
		cl_check(frames == want, "device G: %u packets reached the tap for %u chains "
			 "consumed", frames, want);
	}
	/* A stopped ring stays where it is. */
	cl_sleep_ms(cl_scaled(100));
	cl_expect_base(g.d.fd, VQ_TX, s.num, "device G (TX stopped)");
	cl_check(used_idx(&g, VQ_TX) == u, "device G: TX used idx stays %u while stopped", u);
	/* RX too. */
	cl_attach(g.d.fd, VQ_RX, -1, 0, "device G", "-1 (RX)");
	cl_expect_base(g.d.fd, VQ_RX, (uint16_t)(base + 1), "device G (RX stopped)");
	u = used_idx(&g, VQ_RX);
	cl_check(u == (uint16_t)(base + 1), "device G: RX used idx %u = GET_VRING_BASE %u", u,
		 (uint16_t)(base + 1));
	g.started = false;
	rdev_close(&g);
}

/* ---- driver reload, then traffic as Linux's virtio-net drives it ---------- */

/*
 * A driver start as QEMU 7.2 performs it after a reset, on fresh rings zeroed
 * by the new driver (base 0, used idx 0, avail_event 0), with new kick
 * eventfds that QEMU creates already set (event_notifier_init(notifier, 1)),
 * unless kick_set is false. tx_before > 0: that many TX packets are made
 * available before NET_SET_BACKEND, with no kick (the kernel's vhost-net
 * finds them when it starts polling: a started ring is looked at once).
 */
static bool rdev_start_fresh(struct rdev *x, bool kick_set, unsigned tx_before)
{
	uint64_t bf = CL_BACKEND_FEATURES;
	unsigned gen = x->d.gen++;
	bool ok = true;

	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x->d.call[vq] = cl_eventfd();
		ok &= cl_vring_file(x->d.fd, USV_VHOST_SET_VRING_CALL, vq, x->d.call[vq], 0,
				    x->tag);
	}
	ok &= cl_set_features(x->d.fd, CL_QEMU_FEATURES, 0, x->tag);
	ok &= cl_ioctl(x->d.fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, 0,
		       "%s: SET_BACKEND_FEATURES", x->tag);
	ok &= cl_set_mem_table(x->d.fd, &x->ram, x->tag);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		struct cl_ring *r = &x->d.ring[vq];

		x->d.kick[vq] = cl_eventfd();
		if (kick_set)
			kick(x, vq);
		cl_ring_place(&x->ram, vq, gen, r);
		memset(r->desc, 0, 0x3000); /* the new driver's rings are zeroed */
		x->d.base[vq] = 0;
		ok &= cl_setup_ring(x->d.fd, vq, r, 0, x->d.kick[vq], x->tag);
		x->avail[vq] = x->used[vq] = x->base[vq] = x->used_start[vq] = 0;
	}
	x->rx_posted = 0;
	x->tx_desc = x->tx_slot = 0;
	for (unsigned i = 0; i < tx_before; i++) {
		uint8_t f[100];

		cl_make_frame(f, sizeof(f), ETH_TX, ++x->seq);
		tx_post(x, f, sizeof(f), TX_ONE);
	}
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		ok &= cl_attach(x->d.fd, vq, x->d.tap, 0, x->tag, "tap");
	x->started = ok;
	return ok;
}

/* Stop as QEMU does, a late kick on each old kick eventfd (a guest notify
 * that lands after the stop), QEMU closes them, then a fresh start. */
static bool rdev_reload(struct rdev *x, bool kick_set, unsigned tx_before)
{
	rdev_stop(x, NULL);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		kick(x, vq);
		cl_close(&x->d.call[vq]);
		cl_close(&x->d.kick[vq]);
	}
	return rdev_start_fresh(x, kick_set, tx_before);
}

/* Counts the TX frames of one stream as the tap's interface gets them. */
struct tx_reader {
	struct rdev *x;
	uint32_t next_seq;
	unsigned want, got, missed, backwards;
	volatile bool stop;
};

static void *tx_reader_main(void *arg)
{
	struct tx_reader *t = arg;
	static uint8_t buf[2048];

	while (!t->stop && t->got < t->want) {
		struct pollfd p = { .fd = t->x->port.pkt, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		uint32_t seq;
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recvfrom(t->x->port.pkt, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 18 || from.sll_pkttype == PACKET_OUTGOING || buf[12] != (ETH_TX >> 8) ||
		    buf[13] != (ETH_TX & 0xff))
			continue;
		memcpy(&seq, buf + 14, sizeof(seq));
		if ((int32_t)(seq - t->next_seq) < 0) {
			t->backwards++; /* a duplicate or a reordered frame */
			continue;
		}
		t->missed += seq - t->next_seq;
		t->next_seq = seq + 1;
		t->got++;
	}
	return NULL;
}

/* Waits at most ms for the call eventfd of vq; drains it. */
static bool wait_call(struct rdev *x, unsigned vq, unsigned ms)
{
	return cl_efd_wait(x->d.call[vq], ms, NULL);
}

/*
 * Sends total packets on TX as Linux's virtio-net does with napi_tx and
 * EVENT_IDX: packets go out in bursts (xmit_more), each burst ends with a
 * kick only if avail_event asks for one; before a burst the driver frees
 * what was used with interrupts off (used_event = 0, virtqueue_disable_cb's
 * "hack"). When fewer than 2 + MAX_SKB_FRAGS descriptors are free the queue
 * stops: interrupts on with used_event 3/4 of the way through what is
 * pending (virtqueue_enable_cb_delayed), and only an interrupt restarts it;
 * the last packets are waited for the same way. A device that misses a kick
 * or an interrupt leaves the driver waiting: the check says which one.
 * pace_us > 0: a random pause of up to that between bursts, so the device
 * runs dry and asks for kicks again and again. exact: every packet must
 * reach the tap's interface; otherwise (RX traffic at the same time, which
 * may make the host's backlog drop some of what the device wrote) only
 * their order is checked, and every fifth packet is GSO-sized (20-56 KiB
 * through an indirect table) so the device also yields on its byte weight.
 */
static bool tx_stream(struct rdev *x, unsigned total, unsigned pace_us, bool exact,
		      const char *what)
{
	struct tx_reader rd = { .x = x, .want = total, .next_seq = x->seq + 1 };
	uint16_t kicked_at = x->avail[VQ_TX];
	uint16_t lag = (uint16_t)(x->avail[VQ_TX] - x->used[VQ_TX]);
	unsigned sent = 0, done = 0, kicks = 0, waits = 0;
	uint32_t lcg = 12345;
	pthread_t th;
	bool ok = true;
	int big = 8 << 20;

	if (setsockopt(x->port.pkt, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(x->port.pkt, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	tap_drain(x);
	cl_efd_drain(x->d.call[VQ_TX]);
	if (pthread_create(&th, NULL, tx_reader_main, &rd)) {
		cl_setup_fail("%s: TX reader thread", x->tag);
		return false;
	}
	while (done < total) {
		uint16_t u = used_idx(x, VQ_TX), pending;

		/* free_old_xmit_skbs(): in order, one head per packet */
		while (x->used[VQ_TX] != u) {
			struct cl_vring_used_elem e = used_elem(x, VQ_TX, x->used[VQ_TX]);
			/* the head posted at the matching avail slot */
			uint16_t want = (uint16_t)((uint16_t)(x->used[VQ_TX] + lag) % NUM);

			if (e.id != want || e.len != 0) { /* one check per stream, not per packet */
				ok = cl_check(false, "%s: TX %s: used entry %u is {id %u, len %u}, "
					      "expected {%u, 0}", x->tag, what, x->used[VQ_TX],
					      e.id, e.len, want);
				goto out;
			}
			x->used[VQ_TX]++;
			done++;
		}
		if (done == total)
			break;
		pending = (uint16_t)(x->avail[VQ_TX] - x->used[VQ_TX]);
		if (sent < total && pending <= NUM - 19) {
			unsigned burst = 1 + (lcg = lcg * 1103515245u + 12345u) / 65536 % 8;

			set_used_event(x, VQ_TX, 0); /* virtqueue_disable_cb() */
			for (unsigned i = 0; i < burst && sent < total &&
			     (uint16_t)(x->avail[VQ_TX] - x->used[VQ_TX]) < NUM - 1; i++) {
				static uint8_t f[1514];
				struct cl_vdesc *t = desc_table(x, VQ_TX);
				uint16_t head = (uint16_t)(x->avail[VQ_TX] % NUM);
				size_t off = TX_AREA + (size_t)head * 2048;
				size_t len = 60 + (size_t)((x->seq * 97u) % (sizeof(f) - 60));

				cl_make_frame(f, len, ETH_TX, ++x->seq);
				memset(ram_at(x, off), 0, VNET_HDR);
				if (exact || x->seq % 5) {
					memcpy(ram_at(x, off + VNET_HDR), f, len);
					cl_put_desc(t, head, gpa_at(x, off), (uint32_t)(VNET_HDR + len),
						 0, 0);
				} else {
					/* A GSO-sized packet: header and its first 18
					 * bytes here, the rest from one shared 56 KiB
					 * buffer, through an indirect table of 2. */
					struct cl_vdesc *ind = (struct cl_vdesc *)ram_at(x, off + 1024);
					uint32_t rest = 20000 + (x->seq * 7919u) % 36000;

					memcpy(ram_at(x, off + VNET_HDR), f, 18);
					cl_put_desc(ind, 0, gpa_at(x, off), VNET_HDR + 18, CL_D_NEXT, 1);
					cl_put_desc(ind, 1, gpa_at(x, TX_BIG), rest, 0, 0);
					cl_put_desc(t, head, gpa_at(x, off + 1024), 2 * sizeof(*ind),
						 CL_D_INDIRECT, 0);
				}
				post(x, VQ_TX, head);
				sent++;
			}
			/* virtqueue_kick_prepare() on the last packet of the burst */
			if (kick_as_driver(x, VQ_TX, kicked_at))
				kicks++;
			kicked_at = x->avail[VQ_TX];
			if (pace_us)
				usleep(lcg % pace_us);
			pending = (uint16_t)(x->avail[VQ_TX] - x->used[VQ_TX]);
			if (pending <= NUM - 19)
				continue;
		}
		/* The queue is stopped (ring full) or everything is sent: turn
		 * interrupts on and wait for one, unless more was used already. */
		{
			uint16_t bufs = sent < total ? (uint16_t)(pending * 3 / 4) : 0;

			set_used_event(x, VQ_TX, (uint16_t)(x->used[VQ_TX] + bufs));
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if ((uint16_t)(used_idx(x, VQ_TX) - x->used[VQ_TX]) > bufs)
				continue;
			waits++;
			if (!wait_call(x, VQ_TX, cl_scaled(3000))) {
				u = used_idx(x, VQ_TX);
				cl_check(false, "%s: TX %s: stalled after %u of %u packets: avail idx "
					 "%u, used idx %u, avail_event %u, used_event %u: %s", x->tag,
					 what, done, total, x->avail[VQ_TX], u, avail_event(x, VQ_TX),
					 (uint16_t)(x->used[VQ_TX] + bufs),
					 u != x->avail[VQ_TX] ? "the device waits for a kick the "
					 "driver was not asked for (lost wakeup)" :
					 "everything is used but no interrupt came (lost interrupt)");
				ok = false;
				goto out;
			}
		}
	}
out:
	/* The reader may lag behind the device: wait while it makes progress. */
	for (unsigned last = rd.got, idle = 0;
	     ok && rd.got + rd.missed < total && idle < cl_scaled(3000);) {
		cl_sleep_ms(10);
		idle = rd.got == last ? idle + 10 : 0;
		last = rd.got;
	}
	rd.stop = true;
	cl_join(th, cl_scaled(5000), "TX reader");
	ok &= cl_check(done == total, "%s: TX %s: %u of %u packets used (%u kicks, %u waits "
		       "for an interrupt)", x->tag, what, done, total, kicks, waits);
	/* With RX traffic at the same time the host's backlog may drop some of
	 * what the device wrote (not the device's doing): then only the order
	 * is checked. */
	ok &= cl_check(!rd.backwards && (exact ? rd.got == total : rd.got > 0),
		       "%s: TX %s: the tap delivered %u of %u packets in order (%u missing, %u "
		       "out of order)", x->tag, what, rd.got, total, rd.missed, rd.backwards);
	return ok;
}

/*
 * Receives total frames on RX as Linux's virtio-net does with mergeable
 * buffers and EVENT_IDX: the ring is kept full of buffers (refilled once
 * more than 32 are free, a kick only when avail_event asks for one); after
 * taking what was used the driver turns interrupts on at the next used
 * entry (virtqueue_enable_cb_prepare) and waits for one. The host sends
 * small frames (TCP ACK sized) with at most 64 on their way at a time.
 */
static bool rx_stream(struct rdev *x, unsigned total, unsigned pace_us, const char *what)
{
	unsigned sent = 0, got = 0, kicks = 0;
	uint16_t kicked_at = x->avail[VQ_RX];
	uint32_t seq0 = x->rx_seq + 1;
	bool ok = true;

	cl_efd_drain(x->d.call[VQ_RX]);
	while (got < total) {
		uint16_t u;
		bool took;

		/* try_fill_recv(): refill once more than 32 buffers are free */
		if ((uint16_t)(NUM - (x->avail[VQ_RX] - x->used[VQ_RX])) > 32) {
			rx_post(x, (unsigned)(uint16_t)(NUM - (x->avail[VQ_RX] - x->used[VQ_RX])));
			if (kick_as_driver(x, VQ_RX, kicked_at))
				kicks++;
			kicked_at = x->avail[VQ_RX];
		}
		while (sent < total && sent - got < 64) {
			uint8_t f[128];
			size_t len = 60 + (sent % 7) * 10;

			cl_make_frame(f, len, ETH_RX, seq0 + sent);
			if (!tap_send(x, f, len))
				return false;
			sent++;
			if (pace_us)
				usleep((sent * 7919u) % pace_us);
		}
		/* virtnet_poll(): take what was used */
		u = used_idx(x, VQ_RX);
		took = x->used[VQ_RX] != u;
		while (x->used[VQ_RX] != u) {
			struct cl_vring_used_elem e = used_elem(x, VQ_RX, x->used[VQ_RX]);
			uint16_t head = (uint16_t)(x->used[VQ_RX] % NUM);
			uint32_t seq;
			uint16_t nb;

			memcpy(&nb, ram_at(x, rx_buf_off(head)) + 10, sizeof(nb));
			memcpy(&seq, ram_at(x, rx_buf_off(head)) + VNET_HDR + 14, sizeof(seq));
			if (e.id != head || nb != 1 || seq != seq0 + got)
				return cl_check(false, "%s: RX %s: used entry %u {id %u, len %u} "
						"num_buffers %u seq %u, expected id %u, 1 buffer, seq "
						"%u", x->tag, what, x->used[VQ_RX], e.id, e.len, nb,
						seq, head, seq0 + got);
			x->used[VQ_RX]++;
			got++;
		}
		if (took)
			continue;
		/* napi complete: interrupts on at the next entry, then recheck */
		set_used_event(x, VQ_RX, x->used[VQ_RX]);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (used_idx(x, VQ_RX) != x->used[VQ_RX])
			continue;
		if (!wait_call(x, VQ_RX, cl_scaled(3000))) {
			u = used_idx(x, VQ_RX);
			cl_check(false, "%s: RX %s: stalled after %u of %u frames (%u sent): avail "
				 "idx %u, used idx %u, avail_event %u, used_event %u: %s", x->tag,
				 what, got, total, sent, x->avail[VQ_RX], u, avail_event(x, VQ_RX),
				 x->used[VQ_RX], u != x->used[VQ_RX] ? "used but no interrupt "
				 "(lost interrupt)" : "nothing used though buffers and frames wait");
			ok = false;
			break;
		}
	}
	x->rx_seq = seq0 + sent - 1;
	ok &= cl_check(got == total, "%s: RX %s: %u of %u frames received (%u kicks)", x->tag,
		       what, got, total, kicks);
	return ok;
}

/*
 * The guest masks the ring's MSI-X vector: QEMU points the ring's call at its
 * masked notifier (the init eventfd) with SET_VRING_CALL, and on unmask points
 * it back and re-raises the interrupt if the masked notifier fired
 * (vhost_virtqueue_pending). An interrupt due while masked must land on the
 * masked notifier, never on the guest notifier and never on a closed or
 * stale descriptor: lost there, a driver waiting for it stalls for good. The
 * packet (TX) or frame (RX) is used while the vector is masked, so the
 * signal falls exactly in that window.
 */
static bool masked_call(struct rdev *x, unsigned vq, const char *what)
{
	uint16_t want = (uint16_t)(x->used[vq] + 1), u;
	bool ok = true;

	cl_efd_drain(x->d.call[vq]);
	cl_efd_drain(x->d.init_call[vq]);
	set_used_event(x, vq, x->used[vq]); /* an interrupt for the next entry */
	ok &= cl_vring_file(x->d.fd, USV_VHOST_SET_VRING_CALL, vq, x->d.init_call[vq], 0,
			    x->tag);
	if (vq == VQ_TX) {
		uint8_t f[200];
		uint16_t old = x->avail[VQ_TX];

		cl_make_frame(f, sizeof(f), ETH_TX, ++x->seq);
		tx_post(x, f, sizeof(f), TX_ONE);
		kick_as_driver(x, VQ_TX, old);
	} else {
		uint8_t f[200];
		uint16_t old = x->avail[VQ_RX];

		if (x->avail[VQ_RX] == position(x, VQ_RX)) {
			rx_post(x, 1);
			kick_as_driver(x, VQ_RX, old);
		}
		cl_make_frame(f, sizeof(f), ETH_RX, ++x->rx_seq);
		tap_send(x, f, sizeof(f));
	}
	u = wait_used(x, vq, want, cl_scaled(2000));
	ok &= cl_check(u == want, "%s: vq %u %s: used idx %u while the vector is masked, "
		       "expected %u", x->tag, vq, what, u, want);
	if (vq == VQ_TX) {
		uint8_t b[256];

		ok &= cl_check(tap_recv(x, ETH_TX, b, sizeof(b), cl_scaled(2000)) == 200,
			       "%s: vq 1 %s: the packet sent while masked left the tap", x->tag,
			       what);
	}
	if (u == want)
		x->used[vq] = want;
	/* The go that published the used idx also signalled, and SET_VRING_CALL
	 * is applied between goes: after the unmask below returns, that signal
	 * must be on the masked notifier. The pause lets a misrouted one show. */
	cl_sleep_ms(cl_scaled(20));
	ok &= cl_check(!cl_efd_wait(x->d.call[vq], 0, NULL), "%s: vq %u %s: the guest "
		       "notifier stays quiet while the vector is masked", x->tag, vq, what);
	ok &= cl_vring_file(x->d.fd, USV_VHOST_SET_VRING_CALL, vq, x->d.call[vq], 0, x->tag);
	ok &= cl_check(cl_efd_wait(x->d.init_call[vq], 0, NULL), "%s: vq %u %s: the "
		       "interrupt due while masked is pending on the masked notifier (used_event "
		       "%u)", x->tag, vq, what, (uint16_t)(want - 1));
	return ok;
}

struct rx_job {
	struct rdev *x;
	unsigned total, pace_us;
	const char *what;
};

static void *rx_job_main(void *arg)
{
	struct rx_job *j = arg;

	rx_stream(j->x, j->total, j->pace_us, j->what);
	return NULL;
}

/*
 * What QEMU does when the guest masks and unmasks a ring's MSI-X vector
 * (seen once per ring after each start): SET_VRING_CALL to the masked
 * notifier (the init eventfd), then back to the guest notifier, then, if the
 * masked notifier fired meanwhile, the guest notifier is set by hand
 * (vhost_virtqueue_pending).
 */
struct mask_job {
	struct rdev *x;
	volatile bool stop;
	unsigned pairs, failed;
};

static bool set_call(struct rdev *x, unsigned vq, int efd)
{
	struct usv_vhost_vring_file f = { .index = vq, .fd = efd };

	return ioctl(x->d.fd, USV_VHOST_SET_VRING_CALL, &f) == 0;
}

static void *mask_job_main(void *arg)
{
	struct mask_job *m = arg;
	struct rdev *x = m->x;

	while (!m->stop) {
		for (unsigned vq = 0; vq < USV_NET_NVQS && !m->stop; vq++) {
			uint64_t v, one = 1;

			m->failed += !set_call(x, vq, x->d.init_call[vq]);
			usleep(200);
			m->failed += !set_call(x, vq, x->d.call[vq]);
			if (read(x->d.init_call[vq], &v, sizeof(v)) == sizeof(v) &&
			    write(x->d.call[vq], &one, sizeof(one)) != sizeof(one))
				m->failed++;
			m->pairs++;
			usleep(500);
		}
	}
	return NULL;
}

/* TX and RX streams at once, as a TCP transfer moves data one way and
 * acknowledgements the other, both rings on the device's worker; with
 * masking, the vectors are masked and unmasked all along. */
static void txrx_stream(struct rdev *x, unsigned total, unsigned pace_us, bool masking,
			const char *what)
{
	struct rx_job j = { .x = x, .total = total, .pace_us = pace_us, .what = what };
	struct mask_job m = { .x = x };
	pthread_t th, tm;

	if (pthread_create(&th, NULL, rx_job_main, &j)) {
		cl_setup_fail("%s: RX stream thread", x->tag);
		return;
	}
	if (masking && pthread_create(&tm, NULL, mask_job_main, &m)) {
		cl_setup_fail("%s: masking thread", x->tag);
		masking = false;
	}
	tx_stream(x, total, pace_us, false, what);
	cl_join(th, cl_scaled(120000), "RX stream");
	if (masking) {
		m.stop = true;
		cl_join(tm, cl_scaled(10000), "masking");
		cl_check(m.pairs && !m.failed, "%s: %s: %u mask/unmask pairs (SET_VRING_CALL "
			 "while running), %u failed", x->tag, what, m.pairs, m.failed);
	}
}

static void tx_after_reload(enum cl_ram_kind kind, const char *tag)
{
	struct rdev c;

	if (!rdev_open(&c, tag, kind) || !rdev_start_fresh(&c, true, 0)) {
		rdev_close(&c);
		return;
	}
	tx_stream(&c, 600, 0, true, "stream before the reload");
	rx_stream(&c, 600, 0, "stream before the reload");
	masked_call(&c, VQ_TX, "before the reload");
	masked_call(&c, VQ_RX, "before the reload");
	if (rdev_reload(&c, true, 0)) {
		/* The new driver's first packet: the device asked for the kick
		 * (avail_event) and interrupts at the first used_event. */
		tx_one(&c, 100, TX_ONE, true, "first packet after the reload");
		rx_post(&c, 8);
		kick_as_driver(&c, VQ_RX, 0);
		rx_one(&c, 100, "first frame after the reload");
		masked_call(&c, VQ_TX, "after the reload");
		masked_call(&c, VQ_RX, "after the reload");
		tx_one(&c, 100, TX_ONE, true, "after unmasking");
		rx_one(&c, 100, "after unmasking");
		tx_stream(&c, 1000, 0, true, "stream after the reload");
		rx_stream(&c, 1000, 0, "stream after the reload");
		tx_stream(&c, 1000, 200, true, "paced stream after the reload");
		rx_stream(&c, 1000, 200, "paced stream after the reload");
		txrx_stream(&c, 3000, 0, false, "both ways after the reload");
		txrx_stream(&c, 1000, 300, false, "both ways, paced, after the reload");
		txrx_stream(&c, 3000, 100, true, "both ways, vectors masked and unmasked");
	}
	/* Another reload; this time 4 packets wait in the new ring before the
	 * backend is attached, and no kick is pending on the new eventfd. */
	if (rdev_reload(&c, false, 4)) {
		uint16_t u = wait_used(&c, VQ_TX, 4, cl_scaled(2000));
		unsigned frames = 0;
		uint8_t b[256];

		cl_check(u == 4, "%s: TX: the 4 packets available at NET_SET_BACKEND were used "
			 "without a kick (used idx %u)", tag, u);
		c.used[VQ_TX] = u;
		while (frames < 4 && tap_recv(&c, ETH_TX, b, sizeof(b), cl_scaled(1000)) == 100)
			frames++;
		cl_check(frames == 4, "%s: TX: the tap delivered %u of those 4 packets", tag,
			 frames);
		tx_one(&c, 100, TX_ONE, true, "after a start with packets waiting");
	}
	rdev_stop(&c, NULL);
	rdev_close(&c);
}

static void scenario_tx_after_reload(void)
{
	tx_after_reload(CL_RAM_MEMFD, "device R (shared RAM)");
	tx_after_reload(CL_RAM_ANON_PRIV, "device S (private RAM)");
}

/* ---- driver ---------------------------------------------------------------- */

/* A multi-queue tap of one queue, non-blocking, with QEMU's header size:
 * only such a tap's queue can be detached (TUNSETQUEUE), as QEMU does when
 * the guest uses fewer queue pairs than it has. */
static int tap_open_mq(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE };
	int hdr = 12, fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		cl_setup_fail("a multi-queue tap");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool tap_queue(struct rdev *x, short flag)
{
	struct ifreq ifr = { .ifr_flags = flag };

	return ioctl(x->d.tap, TUNSETQUEUE, &ifr) == 0;
}

/* Deletes the interface (RTM_DELLINK): the daemon's tap fd stays open, its
 * reads fail with EBADFD and its polls say POLLERR from then on. */
static bool link_delete(const char *ifname)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_DELLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 1 },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = (int)if_nametoindex(ifname) },
	};
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} ack;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	bool ok;

	ok = fd >= 0 && req.i.ifi_index > 0 && send(fd, &req, sizeof(req), 0) == sizeof(req) &&
	     recv(fd, &ack, sizeof(ack), 0) >= (ssize_t)sizeof(ack) &&
	     ack.h.nlmsg_type == NLMSG_ERROR && ack.e.error == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The ring's "errors=" in the stats file, within 3 s at least want. */
static unsigned wait_errors(struct rdev *x, unsigned vq, unsigned want)
{
	uint64_t end = cl_now_ms() + cl_scaled(3000);
	unsigned n = 0;
	char line[512], *p;

	do {
		if (stats_line(x, vq, line, sizeof(line)) && (p = strstr(line, " errors=")))
			n = (unsigned)strtoul(p + 8, NULL, 10);
		if (n < want)
			cl_sleep_ms(50);
	} while (n < want && cl_now_ms() < end);
	return n;
}

/* RX while the tap's queue is detached (QEMU detaches the queues of pairs
 * the guest does not use), then attached again: a frame after the attach
 * arrives without a kick, as with the kernel's vhost_net (the daemon polls
 * the tap only once it found it empty). Then the interface is deleted
 * under the daemon: its reads fail and the tap polls POLLERR for good;
 * the failure is counted and the daemon does not spin on it. */
static void scenario_rx_detached(void)
{
	struct rdev c;
	unsigned errs;
	int mq;

	if (!rdev_open(&c, "device C (multi-queue tap)", CL_RAM_MEMFD))
		goto out;
	if ((mq = tap_open_mq()) < 0)
		goto out;
	close(c.d.tap);
	c.d.tap = mq;
	cl_port_close(&c.port);
	if (!tap_host_side(&c) || !rdev_start(&c))
		goto out;
	{
		uint16_t old = c.avail[VQ_RX];

		rx_post(&c, 8);
		kick_as_driver(&c, VQ_RX, old);
	}
	rx_one(&c, 100, "before the queue is detached");
	if (!cl_check(tap_queue(&c, IFF_DETACH_QUEUE), "%s: TUNSETQUEUE IFF_DETACH_QUEUE",
		      c.tag))
		goto out;
	/* A kick makes the daemon look at the detached (empty) queue. */
	kick(&c, VQ_RX);
	check_daemon_idle(c.tag, "RX with the tap's queue detached", cl_scaled(500));
	if (!cl_check(tap_queue(&c, IFF_ATTACH_QUEUE), "%s: TUNSETQUEUE IFF_ATTACH_QUEUE",
		      c.tag))
		goto out;
	/* Buffers are posted already: no kick, the tap's poll brings it. */
	rx_one(&c, 100, "after the queue is attached again, without a kick");
	rx_one(&c, 1514, "and one more");
	if (!cl_check(link_delete(c.port.ifname), "%s: interface %s deleted", c.tag,
		      c.port.ifname))
		goto out;
	kick(&c, VQ_RX);
	errs = wait_errors(&c, VQ_RX, 1);
	cl_check(errs >= 1, "%s: the daemon's read of the deleted tap failed and was "
		 "counted (errors=%u)", c.tag, errs);
	check_daemon_idle(c.tag, "RX on a deleted tap (reads EBADFD, polls POLLERR)",
			  cl_scaled(500));
	rdev_stop(&c, NULL);
out:
	rdev_close(&c);
}

static const struct scenario {
	const char *name;
	const char *title;
	void (*fn)(void);
} scenarios[] = {
	{ "tx", "TX: guest packets out of the tap, used entries, interrupts", scenario_tx },
	{ "rx", "RX: tap frames into mergeable buffers", scenario_rx },
	{ "private-ram", "TX and RX with anonymous private RAM", scenario_private_ram },
	{ "corrupt-head", "TX head >= num stops that ring only", scenario_corrupt_head },
	{ "corrupt-loop", "TX descriptor loop stops that ring only", scenario_corrupt_loop },
	{ "corrupt-avail", "TX avail idx jump stops that ring only", scenario_corrupt_avail },
	{ "corrupt-addr", "TX buffer outside memory stops that ring only",
	  scenario_corrupt_addr },
	{ "corrupt-rx", "RX head >= num stops that ring only", scenario_corrupt_rx },
	{ "vring-base", "GET_VRING_BASE while running and after the stop",
	  scenario_vring_base },
	{ "tx-after-reload", "TX driven as Linux does, before and after a driver reload",
	  scenario_tx_after_reload },
	{ "rx-detached", "RX with the tap's queue detached, then attached again: no spin, "
	  "no kick needed after", scenario_rx_detached },
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static int find_scenario(const char *s)
{
	for (size_t i = 0; i < N_SCENARIOS; i++)
		if (!strcmp(s, scenarios[i].name))
			return (int)i;
	return -1;
}

int main(int argc, char **argv)
{
	bool run[N_SCENARIOS], any = false;
	const char *scale = getenv("USVHOST_TEST_TIMEOUT_SCALE");
	unsigned long checks, failures;

	memset(run, 0, sizeof(run));
	if (scale && atoi(scale) > 0)
		cl_timeout_scale = (unsigned)atoi(scale);
	cl_verbose = true; /* one line per check */
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--dev=", 6)) {
			dev_path = argv[i] + 6;
		} else if (!strncmp(argv[i], "--stats=", 8)) {
			stats_path = argv[i] + 8;
		} else if (!strncmp(argv[i], "--log=", 6)) {
			log_path = argv[i] + 6;
		} else if (!strncmp(argv[i], "--daemon-pid=", 13)) {
			daemon_pid = (pid_t)atoi(argv[i] + 13);
		} else if (!strcmp(argv[i], "-q")) {
			cl_verbose = false;
		} else if (!strcmp(argv[i], "--list")) {
			for (size_t k = 0; k < N_SCENARIOS; k++)
				printf("%s: %s\n", scenarios[k].name, scenarios[k].title);
			return 0;
		} else {
			int k = find_scenario(argv[i]);

			if (k < 0) {
				fprintf(stderr, "ring_faults: no scenario '%s'\n", argv[i]);
				return 2;
			}
			run[k] = any = true;
		}
	}
	if (!dev_path) {
		fprintf(stderr, "usage: ring_faults --dev=PATH [--stats=FILE] [--log=FILE] "
				"[--daemon-pid=PID] [-q] [SCENARIO...] | --list\n");
		return 2;
	}
	if (!any)
		memset(run, 1, sizeof(run));
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("SKIP: ring_faults needs root and /dev/net/tun for its taps\n");
		return 77;
	}
	if (access(dev_path, R_OK | W_OK) != 0) {
		printf("FAIL: cannot open %s: %s\n", dev_path, strerror(errno));
		return 1;
	}
	/* No IPv6 traffic from taps made from now on (this is our namespace). */
	cl_write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	cl_write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");

	cl_print("# ring_faults against %s", dev_path);
	for (size_t k = 0; k < N_SCENARIOS; k++) {
		unsigned long f0 = cl_failures();

		if (!run[k])
			continue;
		cl_print("# %s: %s", scenarios[k].name, scenarios[k].title);
		scenarios[k].fn();
		cl_print("# %s: %s", scenarios[k].name,
			 cl_failures() == f0 ? "ok" : "FAILED");
	}
	if (healthy.started)
		rdev_stop(&healthy, NULL);
	rdev_close(&healthy);
	checks = cl_checks();
	failures = cl_failures();
	cl_print("%lu passed, %lu failed", checks - failures, failures);
	return failures ? 1 : 0;
}
