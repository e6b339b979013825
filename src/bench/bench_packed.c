/* SPDX-License-Identifier: MIT */
/*
 * The driver's side of a packed virtqueue (virtio 1.1, 2.8) as Linux's
 * virtio_ring.c runs it: one ring of 16-byte descriptors that the driver
 * fills at its next slot (AVAIL == its wrap counter, USED != it, the flags
 * stored last with release) and the device overwrites in order with used
 * elements (AVAIL == USED == the wrap counter of that lap), each naming
 * the buffer by its ID; the driver reclaims them slot by slot and gives the
 * IDs back. Interrupts and kicks go through the two event suppression
 * structures: the driver's says DISABLE, or DESC at the used position it
 * wants an interrupt for (the bench always negotiates EVENT_IDX); the
 * device's says when to kick. Every buffer here is one descriptor, so
 * every used element takes one slot.
 */
#include "bench.h"

#include <errno.h>
#include <unistd.h>

#define F_WRITE 2
#define F_AVAIL (1u << 7)
#define F_USED (1u << 15)
#define EV_DISABLE 1
#define EV_DESC 2

static unsigned slot_of(uint16_t pos)
{
	return pos & (BENCH_PACKED_WRAP - 1);
}

static bool wrap_of(uint16_t pos)
{
	return pos & BENCH_PACKED_WRAP;
}

/* pos moved n < num slots forward: the wrap counter flips at the end. */
static uint16_t advance(const struct bench_vring *r, uint16_t pos, unsigned n)
{
	unsigned s = slot_of(pos) + n;
	uint16_t w = pos & BENCH_PACKED_WRAP;

	if (s >= r->num) {
		s -= r->num;
		w ^= BENCH_PACKED_WRAP;
	}
	return (uint16_t)(s | w);
}

/* A position on the circle of 2 * num positions (slot, lap), as the
 * device counts them: distances between positions are taken there. */
static unsigned lin(const struct bench_vring *r, uint16_t pos)
{
	return (slot_of(pos) + (wrap_of(pos) ? r->num : 0)) % (2 * r->num);
}

static struct bench_pdesc *slot(const struct bench_vring *r, uint16_t pos)
{
	return (struct bench_pdesc *)r->desc + slot_of(pos);
}

void bench_packed_add(struct bench_vring *r, uint16_t id, uint64_t addr, uint32_t len,
		      uint16_t flags)
{
	struct bench_pdesc *d = slot(r, r->next_avail);

	d->addr = addr;
	d->len = len;
	d->id = id;
	flags &= F_WRITE;
	flags |= wrap_of(r->next_avail) ? F_AVAIL : F_USED;
	__atomic_store_n(&d->flags, flags, __ATOMIC_RELEASE);
	r->next_avail = advance(r, r->next_avail, 1);
	r->avail_idx++;
}

static bool used_at(const struct bench_vring *r, uint16_t pos)
{
	uint16_t f = __atomic_load_n(&slot(r, pos)->flags, __ATOMIC_ACQUIRE);
	bool w = wrap_of(pos);

	return !!(f & F_AVAIL) == w && !!(f & F_USED) == w;
}

bool bench_packed_pending(const struct bench_vring *r)
{
	return r->avail_idx != r->last_used && used_at(r, r->next_used);
}

bool bench_packed_get(struct bench_vring *r, uint32_t *id, uint32_t *len)
{
	const struct bench_pdesc *d;

	if (!bench_packed_pending(r))
		return false;
	d = slot(r, r->next_used);
	*id = d->id;
	*len = d->len;
	r->next_used = advance(r, r->next_used, 1);
	r->last_used++;
	return true;
}

/* As virtqueue_enable_cb_delayed_packed() and virtqueue_disable_cb_packed():
 * one 32-bit store, DISABLE written only when it was not already. */
void bench_packed_irq_after(struct bench_vring *r, unsigned k)
{
	if (k >= r->num) {
		if (r->event_flags != EV_DISABLE)
			__atomic_store_n(r->driver_event, (uint32_t)EV_DISABLE << 16,
					 __ATOMIC_RELEASE);
		r->event_flags = EV_DISABLE;
		return;
	}
	__atomic_store_n(r->driver_event,
			 advance(r, r->next_used, k) | (uint32_t)EV_DESC << 16, __ATOMIC_RELEASE);
	r->event_flags = EV_DESC;
	/* The device must see it before we look at the ring again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* virtqueue_kick_prepare_packed(): DISABLE no kick, DESC a kick only when
 * the position it names was made available by the last `added` posts. */
void bench_packed_kick(struct bench_dev *d, unsigned q, uint16_t added)
{
	struct bench_vring *r = &d->vq[q];
	unsigned m = 2 * r->num, n = lin(r, r->next_avail);
	uint64_t one = 1;
	uint32_t ev;
	uint16_t flags;
	bool kick;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ev = __atomic_load_n(r->device_event, __ATOMIC_ACQUIRE);
	flags = (uint16_t)(ev >> 16);
	if (flags == EV_DESC)
		kick = (n + 2 * m - lin(r, (uint16_t)ev) - 1) % m < added;
	else
		kick = flags != EV_DISABLE;
	if (kick && write(d->kick[q], &one, sizeof(one)) != sizeof(one))
		d->err = d->err ? d->err : -errno;
}

unsigned bench_packed_used_count(const struct bench_vring *r)
{
	unsigned n = 0;
	uint16_t pos = r->next_used;

	while (n < r->num && used_at(r, pos)) {
		pos = advance(r, pos, 1);
		n++;
	}
	return n;
}
