/* SPDX-License-Identifier: MIT */
/*
 * The guest driver's loops, as Linux's virtio-net runs them with EVENT_IDX:
 * TX posts frames while descriptors are free and reclaims used ones, asking
 * for an interrupt (3/4 of the way through what is in flight) only when the
 * ring is full; RX keeps every buffer posted, reposting each as it is used.
 * --guest=poll never asks for interrupts and spins on the used index.
 * The loops see a ring through post / publish / get_used / irq_after, which
 * drive a split ring here and a packed one through bench_packed.c.
 */
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define D_WRITE 2

static uint16_t used_idx(const struct bench_vring *r)
{
	return __atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE);
}

/* Has the device used something we have not reclaimed? */
static bool pending(const struct bench_vring *r)
{
	return r->packed ? bench_packed_pending(r) : used_idx(r) != r->last_used;
}

/* The next used entry, if any: the buffer's id and the length written. */
static bool get_used(struct bench_vring *r, uint32_t *id, uint32_t *len)
{
	const uint32_t *e;

	if (r->packed)
		return bench_packed_get(r, id, len);
	if (used_idx(r) == r->last_used)
		return false;
	e = (const uint32_t *)(r->used + 2) + 2 * (r->last_used++ % r->num);
	*id = e[0];
	*len = e[1];
	return true;
}

/* Interrupt me once the device has used k more entries than we reclaimed
 * (split: used_event; packed: the driver event structure). */
static void irq_after(struct bench_vring *r, uint16_t k)
{
	if (r->packed) {
		bench_packed_irq_after(r, k);
		return;
	}
	__atomic_store_n(&r->avail[2 + r->num], (uint16_t)(r->last_used + k), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Buffer id, one descriptor, made available (published by publish()). */
static void post(struct bench_vring *r, uint16_t id, uint32_t len, uint16_t flags)
{
	uint64_t addr = r->bufs_gpa + (uint64_t)id * r->bufsz;

	if (r->packed) {
		bench_packed_add(r, id, addr, len, flags);
		return;
	}
	{
		struct bench_vdesc v = { addr, len, flags, 0 };

		memcpy(&r->desc[id], &v, sizeof(v));
	}
	r->avail[2 + r->avail_idx % r->num] = id;
	r->avail_idx++;
}

/* What was posted since avail_idx was old becomes visible, with a kick if
 * the device asked for one. */
static void publish(struct bench_dev *d, unsigned q, uint16_t old)
{
	struct bench_vring *r = &d->vq[q];

	if (r->avail_idx == old)
		return;
	if (r->packed) {
		bench_packed_kick(d, q, (uint16_t)(r->avail_idx - old));
		return;
	}
	__atomic_store_n(&r->avail[1], r->avail_idx, __ATOMIC_RELEASE);
	bench_vring_kick(d, q, old);
}

/* Sleeps on the ring's call eventfd (bounded); false on a real error. */
static bool wait_call(struct bench_dev *d, unsigned q, int ms)
{
	struct pollfd p = { .fd = d->call[q], .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) < 0 && errno != EINTR) {
		d->err = -errno;
		return false;
	}
	(void)!read(d->call[q], &v, sizeof(v));
	return true;
}

/* No progress: in irq mode ask for an interrupt once k more entries are
 * used and sleep unless the device moved meanwhile; in poll mode spin. */
static bool idle(struct bench_dev *d, unsigned q, uint16_t k)
{
	struct bench_vring *r = &d->vq[q];

	if (d->o->poll)
		return true;
	irq_after(r, k);
	if (pending(r))
		return true;
	return wait_call(d, q, 50);
}

/* Split: poll mode leaves used_event behind (irq mode leaves the last
 * one, passed). Packed: DISABLE in both, as Linux's driver does between
 * interrupts: a DESC left behind would be passed again a lap later. */
static void no_interrupts(struct bench_dev *d, unsigned q)
{
	struct bench_vring *r = &d->vq[q];

	if (r->packed || d->o->poll)
		irq_after(r, 0xffff);
}

static unsigned reclaim_tx(struct bench_dev *d)
{
	struct bench_vring *r = &d->vq[1];
	uint32_t id, len;
	unsigned n = 0;

	while (get_used(r, &id, &len)) {
		if (id < r->num && r->free_top < r->num)
			r->free_ids[r->free_top++] = (uint16_t)id;
		n++;
	}
	return n;
}

int bench_guest_tx(struct bench_dev *d, struct bench_clock *c)
{
	struct bench_vring *r = &d->vq[1];
	uint32_t len = BENCH_HDR + d->o->size;
	uint64_t end;

	for (unsigned i = 0; i < r->num; i++) {
		uint8_t *b = r->bufs + i * r->bufsz;

		memset(b, 0, BENCH_HDR);
		bench_frame(b + BENCH_HDR, d->o->size, i);
	}
	no_interrupts(d, 1);
	while (atomic_load(&c->phase) == 0 && !d->err) {
		unsigned done = reclaim_tx(d);
		uint16_t old = r->avail_idx;

		d->frames_window += done;
		while (r->free_top)
			post(r, r->free_ids[--r->free_top], len, 0);
		publish(d, 1, old);
		no_interrupts(d, 1);
		if (!done && r->avail_idx == old &&
		    !idle(d, 1, (uint16_t)((uint16_t)(r->avail_idx - r->last_used) * 3 / 4)))
			break;
	}
	d->frames_total = d->frames_window;
	/* What is in flight completes, within a second. */
	end = bench_now_ns() + 1000000000ull;
	while (r->last_used != r->avail_idx && bench_now_ns() < end && !d->err) {
		unsigned done = reclaim_tx(d);

		d->frames_total += done;
		if (!done && !d->o->poll)
			idle(d, 1, (uint16_t)(r->avail_idx - r->last_used - 1));
	}
	return d->err;
}

/* Counts frames (with MRG_RXBUF one frame may span several buffers) and
 * reposts every used buffer. */
static unsigned reclaim_rx(struct bench_dev *d, unsigned *merge, uint64_t *frames)
{
	struct bench_vring *r = &d->vq[0];
	uint16_t old = r->avail_idx;
	uint32_t id, len;
	unsigned n = 0;

	while (get_used(r, &id, &len)) {
		n++;
		if (id >= r->num)
			continue;
		if (*merge) {
			(*merge)--;
		} else {
			uint16_t nb;

			memcpy(&nb, r->bufs + id * r->bufsz + 10, sizeof(nb));
			*merge = nb ? nb - 1u : 0;
			(*frames)++;
		}
		post(r, (uint16_t)id, (uint32_t)r->bufsz, D_WRITE);
	}
	publish(d, 0, old);
	return n;
}

static void rx_fill(struct bench_dev *d)
{
	struct bench_vring *r = &d->vq[0];

	for (uint16_t id = 0; id < r->num; id++)
		post(r, id, (uint32_t)r->bufsz, D_WRITE);
	r->free_top = 0;
	publish(d, 0, 0);
	no_interrupts(d, 0);
}

void bench_guest_idle(struct bench_dev *d)
{
	rx_fill(d);
	if (!d->o->poll) /* as a sleeping driver: interrupt me at the first frame */
		irq_after(&d->vq[0], 0);
}

unsigned bench_guest_used(const struct bench_dev *d)
{
	if (d->vq[0].packed)
		return bench_packed_used_count(&d->vq[0]) + bench_packed_used_count(&d->vq[1]);
	return used_idx(&d->vq[0]) + used_idx(&d->vq[1]);
}

/* Frames the backend has read from the tap that the guest has not counted
 * yet (the tap counts a frame as sent when its reader takes it). */
static bool rx_behind(struct bench_dev *d)
{
	struct bench_tapstat s;

	return bench_tap_stats(d->port.ifname, &s) == 0 &&
	       s.tx_packets - d->tap0.tx_packets > d->frames_total;
}

int bench_guest_rx(struct bench_dev *d, struct bench_clock *c)
{
	unsigned merge = 0;
	uint64_t quiet, deadline;

	rx_fill(d);
	while (atomic_load(&c->phase) == 0 && !d->err) {
		if (!reclaim_rx(d, &merge, &d->frames_window) && !idle(d, 0, 0))
			break;
		no_interrupts(d, 0);
	}
	d->frames_total = d->frames_window;
	/* The injector has stopped: drain until 200 ms pass without a frame and
	 * every frame the backend took from the tap has arrived. A slow backend
	 * (anonymous RAM on an emulated CPU) can be busy with one frame for
	 * longer than 200 ms. Bounded well within the 10 s the thread has. */
	quiet = bench_now_ns();
	deadline = quiet + 8000000000ull;
	while (!d->err && bench_now_ns() < deadline) {
		if (reclaim_rx(d, &merge, &d->frames_total))
			quiet = bench_now_ns();
		else if (bench_now_ns() - quiet >= 200000000ull && !rx_behind(d))
			break;
		else if (!d->o->poll)
			idle(d, 0, 0);
	}
	return d->err;
}

/* One frame out on TX, the host side echoes it, wait for it on RX. */
int bench_guest_rr(struct bench_dev *d, struct bench_clock *c)
{
	struct bench_vring *t = &d->vq[1];
	uint32_t len = BENCH_HDR + d->o->size;
	unsigned merge = 0;

	d->samples = calloc(BENCH_MAX_SAMPLES, sizeof(*d->samples));
	if (!d->samples)
		return -ENOMEM;
	rx_fill(d);
	no_interrupts(d, 1);
	for (uint32_t seq = 1; atomic_load(&c->phase) == 0 && !d->err; seq++) {
		uint64_t t0 = bench_now_ns(), before = d->frames_window;
		uint16_t old;
		uint16_t id;

		reclaim_tx(d);
		if (!t->free_top) {
			idle(d, 1, (uint16_t)(t->avail_idx - t->last_used - 1));
			continue;
		}
		id = t->free_ids[--t->free_top];
		memset(t->bufs + id * t->bufsz, 0, BENCH_HDR);
		bench_frame(t->bufs + id * t->bufsz + BENCH_HDR, d->o->size, seq);
		old = t->avail_idx;
		post(t, id, len, 0);
		publish(d, 1, old);
		while (d->frames_window == before && !d->err) {
			if (bench_now_ns() - t0 > 1000000000ull) {
				d->lost++;
				break;
			}
			if (!reclaim_rx(d, &merge, &d->frames_window) && !idle(d, 0, 0))
				break;
			no_interrupts(d, 0);
		}
		if (d->frames_window != before && d->nsamples < BENCH_MAX_SAMPLES)
			d->samples[d->nsamples++] = bench_now_ns() - t0;
	}
	d->frames_total = d->frames_window;
	return d->err;
}
