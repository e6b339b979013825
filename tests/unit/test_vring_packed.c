/* SPDX-License-Identifier: MIT */
/*
 * The host side of the packed ring (core/vringh_packed.c, behind the
 * usv_vringh_* calls) against guest memory built here, the test playing a
 * virtio 1.1 driver (2.8): descriptors made available with the driver's wrap
 * counter, the head's flags written last; used elements read back as a
 * driver reads them.
 *
 * Every ring case runs twice on vring_fixture.h's guest memory, as
 * test_vring.c's: regions "mapped" (local pointers, memcpy) and "unmapped"
 * (rings and tables through /proc/self/mem). The malicious cases are the split ring's, for the packed
 * layout: chains longer than the ring, IDs and positions out of range,
 * buffers outside memory or wrapping 2^64, nested and malformed indirect
 * tables, zero-length storms, more descriptors in flight than the ring.
 * With a device IOTLB (a vIOMMU) the ring's and buffers' addresses are
 * IOVAs, as test_vring.c's IOTLB cases for the split ring.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/caller.h"
#include "core/guestmem.h"
#include "core/iotlb.h"
#include "usvhost/vringh.h"
#include "vring_fixture.h"

#define F_PACKED USV_BIT(USV_F_RING_PACKED)

#define D_AVAIL USV_VRING_PACKED_DESC_F_AVAIL
#define D_USED USV_VRING_PACKED_DESC_F_USED
#define WRAP USV_VRING_PACKED_WRAP

#define EV_ENABLE USV_VRING_PACKED_EVENT_ENABLE
#define EV_DISABLE USV_VRING_PACKED_EVENT_DISABLE
#define EV_DESC USV_VRING_PACKED_EVENT_DESC

/* struct pvirtq_desc as the driver writes it. */
struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

/* One descriptor of a chain the test makes available. */
struct bufd {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* NEXT is added between the chain's members */
};

/* The driver's packed ring at RING_GPA: descriptors, driver event, device
 * event. */
struct vt_drv {
	uint8_t *desc, *drv_ev, *dev_ev;
	/* Next slot to fill and its wrap counter, next used element to read
	 * and its wrap counter. */
	unsigned next_avail, next_used;
	bool avail_wrap, used_wrap;
};

const size_t vt_drv_size = sizeof(struct vt_drv);

/* ---- the driver's side --------------------------------------------------- */

static uint64_t drv_ev_gpa(struct vt *t)
{
	return RING_GPA + 16ULL * t->num;
}

/* The walker reaches the ring through our own mapping exactly when the
 * fixture maps guest memory ("mapped"), else through /proc. */
static void ring_reached_as_mapped(struct vt *t)
{
	if (t->mapped) {
		assert_ptr_equal(t->vr.ldesc, t->drv->desc);
		assert_ptr_equal(t->vr.lavail, t->drv->drv_ev);
		assert_ptr_equal(t->vr.lused, t->drv->dev_ev);
	} else {
		assert_null(t->vr.ldesc);
		assert_null(t->vr.lavail);
		assert_null(t->vr.lused);
	}
}

/* A zeroed packed ring of num slots at RING_GPA, both sides at slot 0 with
 * wrap counters 1 (a fresh ring: SET_VRING_BASE 0x80008000). */
static void ring(struct vt *t, uint32_t num, uint64_t features)
{
	assert_true(num <= 4096);
	t->num = num;
	t->drv->desc = gp(t, RING_GPA);
	t->drv->drv_ev = gp(t, drv_ev_gpa(t));
	t->drv->dev_ev = gp(t, drv_ev_gpa(t) + 4);
	memset(t->drv->desc, 0, 16ULL * num + 8);
	t->drv->next_avail = t->drv->next_used = 0;
	t->drv->avail_wrap = t->drv->used_wrap = true;
	memset(&t->vr, 0, sizeof(t->vr));
	usv_vringh_setup(&t->vr, t->m, num, uva_of(t, RING_GPA), uva_of(t, drv_ev_gpa(t)),
			 uva_of(t, drv_ev_gpa(t) + 4), features | F_PACKED);
	t->vr.log = (struct usv_vringh_log){ .lock = &t->log_lock, .memfd = t->m->memfd,
					    .base = 0, .fd = -1 };
	t->vr.last_avail_idx = t->vr.avail_idx = WRAP;
	t->vr.last_used_idx = WRAP;
	assert_true(t->vr.packed);
	ring_reached_as_mapped(t);
}

/* Writes slot s raw: what a (possibly malicious) driver may write. */
static void put_slot(struct vt *t, unsigned s, uint64_t addr, uint32_t len, uint16_t id,
		     uint16_t flags)
{
	struct pdesc d = { .addr = addr, .len = len, .id = id };

	assert_true(s < t->num);
	memcpy(t->drv->desc + 16ULL * s, &d, 14);
	st16(t->drv->desc + 16ULL * s + 14, flags);
}

/* Available in the lap of wrap counter w: AVAIL = w, USED = !w. */
static uint16_t avail_bits(bool w)
{
	return w ? D_AVAIL : D_USED;
}

/* Makes a chain of n descriptors available at the driver's next slot, id
 * in every descriptor, the head's flags last. Returns the head's slot. */
static unsigned add_chain(struct vt *t, const struct bufd *b, unsigned n, uint16_t id)
{
	unsigned head = t->drv->next_avail, s = head;
	bool w = t->drv->avail_wrap;
	uint16_t head_flags = 0;

	for (unsigned i = 0; i < n; i++) {
		uint16_t f = (uint16_t)(b[i].flags | (i + 1 < n ? D_NEXT : 0) |
					avail_bits(t->drv->avail_wrap));

		if (i == 0)
			head_flags = f;
		else
			put_slot(t, s, b[i].addr, b[i].len, id, f);
		if (++s == t->num) {
			s = 0;
			t->drv->avail_wrap = !t->drv->avail_wrap;
		}
	}
	/* The head's flags: not available until now. */
	put_slot(t, head, b[0].addr, b[0].len, id, avail_bits(!w));
	st16(t->drv->desc + 16ULL * head + 14, head_flags);
	t->drv->next_avail = s;
	return head;
}

static unsigned add1(struct vt *t, uint64_t addr, uint32_t len, uint16_t flags, uint16_t id)
{
	struct bufd b = { addr, len, flags };

	return add_chain(t, &b, 1, id);
}

/* Writes an indirect table entry (byte-wise: a table may cross regions). */
static void ind(struct vt *t, uint64_t table_gpa, unsigned i, uint64_t addr, uint32_t len,
		uint16_t flags)
{
	struct pdesc d = { .addr = addr, .len = len, .flags = flags };

	for (unsigned k = 0; k < sizeof(d); k++)
		*gp(t, table_gpa + 16ULL * i + k) = ((uint8_t *)&d)[k];
}

static uint16_t pos(unsigned slot, bool w)
{
	return (uint16_t)(slot | (w ? WRAP : 0));
}

/* The driver's side of a used element: present (AVAIL == USED == its used
 * wrap counter)? Reads {id, len, flags} and moves on by slots. */
static bool take_used(struct vt *t, unsigned slots, uint16_t *id, uint32_t *len,
		      uint16_t *flags)
{
	uint8_t *e = t->drv->desc + 16ULL * t->drv->next_used;
	uint16_t f = ld16(e + 14);
	bool w = t->drv->used_wrap;

	if (!!(f & D_AVAIL) != w || !!(f & D_USED) != w)
		return false;
	memcpy(len, e + 8, 4);
	memcpy(id, e + 12, 2);
	*flags = f;
	t->drv->next_used += slots;
	if (t->drv->next_used >= t->num) {
		t->drv->next_used -= t->num;
		t->drv->used_wrap = !t->drv->used_wrap;
	}
	return true;
}

static void drv_event_set(struct vt *t, uint16_t off_wrap, uint16_t flags)
{
	uint32_t v = off_wrap | (uint32_t)flags << 16;

	__atomic_store_n((uint32_t *)t->drv->drv_ev, v, __ATOMIC_RELEASE);
}

static uint16_t dev_event_off(struct vt *t)
{
	return ld16(t->drv->dev_ev);
}

static uint16_t dev_event_flags(struct vt *t)
{
	return ld16(t->drv->dev_ev + 2);
}

static int push1(struct vt *t, uint32_t head, uint32_t len)
{
	return usv_vringh_push(&t->vr, &head, &len, 1);
}

/* ---- chains -------------------------------------------------------------- */

static void pop_on_an_empty_ring_is_eagain(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	assert_int_equal(pop(t), -EAGAIN);
	assert_false(usv_vringh_has_avail(&t->vr));
	/* A descriptor of the other lap is not available either. */
	put_slot(t, 0, DATA_GPA, 8, 0, avail_bits(false));
	assert_int_equal(pop(t), -EAGAIN);
	/* Nor one that is marked used in this lap. */
	put_slot(t, 0, DATA_GPA, 8, 0, D_AVAIL | D_USED);
	assert_int_equal(pop(t), -EAGAIN);
	assert_int_equal(t->vr.last_avail_idx, WRAP);
}

static void simple_chain(void **state)
{
	struct vt *t = *state;
	uint8_t out[100];

	ring(t, 256, 0);
	fill(t, DATA_GPA, 100, 1);
	add1(t, DATA_GPA, 100, 0, 7);
	assert_true(usv_vringh_has_avail(&t->vr));
	assert_int_equal(pop(t), 0);
	chain_is(t, 7, 1, 100, 0, 0);
	seg_is(t, 0, DATA_GPA, 100);
	assert_int_equal(t->c.ndesc, 1);
	assert_int_equal(t->vr.last_avail_idx, pos(1, true));
	assert_int_equal(usv_chain_read(&t->c, 0, out, 100, t->m), 0);
	assert_memory_equal(out, gp(t, DATA_GPA), 100);
	assert_int_equal(pop(t), -EAGAIN);
	assert_false(usv_vringh_has_avail(&t->vr));
}

static void chain_out_then_in_takes_the_last_id(void **state)
{
	struct vt *t = *state;
	struct bufd b[3] = {
		{ DATA_GPA, 10, 0 }, { DATA_GPA + 100, 20, D_WRITE }, { DATA_GPA + 200, 30, D_WRITE },
	};
	struct pdesc d;

	ring(t, 256, 0);
	add_chain(t, b, 3, 9);
	/* Only the last descriptor's ID counts (2.8.6): change the others. */
	memcpy(&d, t->drv->desc, sizeof(d));
	d.id = 200;
	memcpy(t->drv->desc, &d, 14);
	assert_int_equal(pop(t), 0);
	chain_is(t, 9, 1, 10, 2, 50);
	seg_is(t, 0, DATA_GPA, 10);
	seg_is(t, 1, DATA_GPA + 100, 20);
	seg_is(t, 2, DATA_GPA + 200, 30);
	assert_int_equal(t->c.ndesc, 3);
	assert_int_equal(t->vr.last_avail_idx, pos(3, true));
}

static void zero_length_descriptor_is_not_translated(void **state)
{
	struct vt *t = *state;
	struct bufd b[2] = { { MEM_END + 4096, 0, 0 }, { DATA_GPA, 8, 0 } };

	ring(t, 256, 0);
	add_chain(t, b, 2, 1);
	assert_int_equal(pop(t), 0);
	chain_is(t, 1, 1, 8, 0, 0);
	assert_int_equal(t->c.ndesc, 2);
}

static void indirect_table_takes_all_its_entries(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	/* F_NEXT means nothing in a packed table: all len / 16 entries. */
	ind(t, IND_GPA, 0, DATA_GPA, 10, 0);
	ind(t, IND_GPA, 1, DATA_GPA + 100, 20, D_NEXT);
	ind(t, IND_GPA, 2, DATA_GPA + 200, 30, D_WRITE);
	add1(t, IND_GPA, 48, D_INDIRECT, 4);
	assert_int_equal(pop(t), 0);
	chain_is(t, 4, 2, 30, 1, 30);
	seg_is(t, 2, DATA_GPA + 200, 30);
	assert_int_equal(t->c.ndesc, 4);
	/* The table is one ring slot. */
	assert_int_equal(t->vr.last_avail_idx, pos(1, true));
}

static void indirect_table_of_65536_entries(void **state)
{
	struct vt *t = *state;

	/* The kernel's largest table; the chain bound (1024 reads) cuts a
	 * table of zero-length entries, so give the entries length. */
	ring(t, 256, F_INDIRECT);
	for (unsigned i = 0; i < 1024; i++)
		ind(t, BIG_GPA, i, DATA_GPA, 1, 0);
	add1(t, BIG_GPA, 1024 * 16, D_INDIRECT, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 1024, 1024, 0, 0);
	assert_int_equal(t->c.ndesc, 1025);
	ring(t, 256, F_INDIRECT);
	add1(t, BIG_GPA, 65536 * 16, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "longer than 1024");
}

static void chain_spanning_two_regions(void **state)
{
	struct vt *t = *state;
	uint8_t out[64];

	ring(t, 256, 0);
	fill(t, R1_GPA - 32, 64, 3);
	add1(t, R1_GPA - 32, 64, 0, 2);
	assert_int_equal(pop(t), 0);
	chain_is(t, 2, 2, 64, 0, 0);
	seg_is(t, 0, R1_GPA - 32, 32);
	seg_is(t, 1, R1_GPA, 32);
	assert_int_equal(usv_chain_read(&t->c, 0, out, 64, t->m), 0);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(out[i], (uint8_t)(3 + i * 7));
}

static void a_chain_wraps_at_the_ring_end(void **state)
{
	struct vt *t = *state;
	struct bufd b[3] = { { DATA_GPA, 1, 0 }, { DATA_GPA + 8, 2, 0 }, { DATA_GPA + 16, 3, 0 } };
	uint16_t id, flags;
	uint32_t len;

	ring(t, 8, 0);
	t->vr.last_avail_idx = t->vr.avail_idx = t->vr.last_used_idx = pos(6, true);
	t->drv->next_avail = t->drv->next_used = 6;
	add_chain(t, b, 3, 5);
	assert_int_equal(pop(t), 0);
	chain_is(t, 5, 3, 6, 0, 0);
	seg_is(t, 2, DATA_GPA + 16, 3);
	/* Slots 6, 7 and 0: the wrap counter flipped. */
	assert_int_equal(t->vr.last_avail_idx, pos(1, false));
	assert_int_equal(push1(t, 5, 0), 0);
	assert_int_equal(t->vr.last_used_idx, pos(1, false));
	assert_true(take_used(t, 3, &id, &len, &flags));
	assert_int_equal(id, 5);
	/* Written at slot 6 in lap 1: AVAIL and USED set, no WRITE for 0. */
	assert_int_equal(flags, D_AVAIL | D_USED);
}

static void a_chain_of_num_descriptors(void **state)
{
	struct vt *t = *state;
	struct bufd b[256];

	ring(t, 256, 0);
	for (unsigned i = 0; i < 256; i++)
		b[i] = (struct bufd){ DATA_GPA + i * 8ULL, 8, 0 };
	add_chain(t, b, 256, 3);
	assert_int_equal(pop(t), 0);
	chain_is(t, 3, 256, 2048, 0, 0);
	assert_int_equal(t->c.ndesc, 256);
	assert_int_equal(t->vr.last_avail_idx, pos(0, false));
	assert_int_equal(t->vr.inflight_slots, 256);
	assert_int_equal(push1(t, 3, 0), 0);
	assert_int_equal(t->vr.last_used_idx, pos(0, false));
	assert_int_equal(t->vr.inflight_slots, 0);
}

static void wrap_counters_across_many_laps(void **state)
{
	struct vt *t = *state;
	unsigned laps_before;

	/* 1000 chains of 1 to 3 slots through a ring of 8, in batches of up
	 * to 3 chains: both sides must agree on every slot and lap. */
	ring(t, 8, 0);
	for (unsigned i = 0, k = 0; i < 1000; k++) {
		unsigned batch = 1 + k % 3, sizes[3];
		uint32_t heads[3], lens[3];

		for (unsigned j = 0; j < batch; j++, i++) {
			struct bufd b[3] = { { DATA_GPA, 4, 0 }, { DATA_GPA + 64, 8, D_WRITE },
					     { DATA_GPA + 128, 8, D_WRITE } };

			sizes[j] = 1 + (i + k) % 3;
			if (sizes[j] == 1)
				b[0].flags = D_WRITE;
			add_chain(t, b, sizes[j], (uint16_t)(i % 8));
			assert_int_equal(pop(t), 0);
			assert_int_equal(t->c.head, i % 8);
			heads[j] = t->c.head;
			lens[j] = i % 5;
		}
		assert_int_equal(t->vr.last_avail_idx, pos(t->drv->next_avail, t->drv->avail_wrap));
		assert_int_equal(usv_vringh_push(&t->vr, heads, lens, batch), 0);
		for (unsigned j = 0; j < batch; j++) {
			uint16_t id, flags;
			uint32_t len;

			assert_true(take_used(t, sizes[j], &id, &len, &flags));
			assert_int_equal(id, heads[j]);
			assert_int_equal(len, lens[j]);
			assert_int_equal(!!(flags & D_WRITE), lens[j] != 0);
		}
		assert_int_equal(t->vr.last_used_idx, pos(t->drv->next_used, t->drv->used_wrap));
		assert_int_equal(t->vr.inflight_n, 0);
	}
	laps_before = t->vr.last_avail_idx;
	assert_int_equal(pop(t), -EAGAIN);
	assert_int_equal(t->vr.last_avail_idx, laps_before);
}

static void a_chain_of_1024_zero_length_entries_is_taken(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	add1(t, BIG_GPA, 1024 * 16, D_INDIRECT, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 0, 0, 0, 0);
	assert_int_equal(t->c.ndesc, 1025);
}

static void err_zero_length_indirect_storm(void **state)
{
	struct vt *t = *state;

	/* 1025 zero-length entries: more reads than a chain may cost, and
	 * the reads are counted for the weight also on failure. */
	ring(t, 256, F_INDIRECT);
	add1(t, BIG_GPA, 1025 * 16, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "longer than 1024");
	assert_int_equal(t->c.ndesc, 1026);
	/* A table of zero length is no table. */
	ring(t, 256, F_INDIRECT);
	add1(t, IND_GPA, 0, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "invalid length");
}

static void a_ring_of_2048_bounds_chains_at_2048(void **state)
{
	struct vt *t = *state;

	ring(t, 2048, F_INDIRECT);
	add1(t, BIG_GPA, 2048 * 16, D_INDIRECT, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.ndesc, 2049);
	add1(t, BIG_GPA, 2049 * 16, D_INDIRECT, 1);
	pop_fails(t, -EINVAL, "longer than 2048");
}

static void err_chain_longer_than_the_ring(void **state)
{
	struct vt *t = *state;

	/* Every slot says NEXT: the chain would go round forever. */
	ring(t, 16, 0);
	for (unsigned s = 1; s < 16; s++)
		put_slot(t, s, DATA_GPA, 0, 0, D_NEXT | avail_bits(true));
	put_slot(t, 0, DATA_GPA, 0, 0, D_NEXT | avail_bits(true));
	pop_fails(t, -EINVAL, "loop");
	assert_int_equal(t->c.ndesc, 16);
}

static void err_buffer_id_at_or_above_num(void **state)
{
	struct vt *t = *state;
	struct bufd b[2] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };

	ring(t, 256, 0);
	add1(t, DATA_GPA, 8, 0, 256);
	pop_fails(t, -EINVAL, "buffer id 256");
	ring(t, 256, 0);
	add1(t, DATA_GPA, 8, 0, 0xffff);
	pop_fails(t, -EINVAL, "buffer id 65535");
	/* The last descriptor's, not the head's. */
	ring(t, 256, 0);
	add_chain(t, b, 2, 300);
	put_slot(t, 0, DATA_GPA, 8, 1, D_NEXT | avail_bits(true));
	pop_fails(t, -EINVAL, "buffer id 300");
}

static void err_position_at_or_above_num(void **state)
{
	struct vt *t = *state;

	/* SET_VRING_BASE with a slot past the ring: the ring breaks at the
	 * first pop or push, nothing is read or written out of it. */
	ring(t, 256, 0);
	t->vr.last_avail_idx = t->vr.avail_idx = pos(256, true);
	pop_fails(t, -EINVAL, "beyond ring size");
	assert_false(usv_vringh_has_avail(&t->vr));
	ring(t, 256, 0);
	add1(t, DATA_GPA, 8, 0, 0);
	assert_int_equal(pop(t), 0);
	t->vr.last_used_idx = pos(0x7fff, false);
	assert_int_equal(push1(t, 0, 0), -EINVAL);
	assert_non_null(strstr(t->vr.err, "beyond ring size"));
}

static void err_out_after_in(void **state)
{
	struct vt *t = *state;
	struct bufd b[2] = { { DATA_GPA, 8, D_WRITE }, { DATA_GPA, 8, 0 } };

	ring(t, 256, 0);
	add_chain(t, b, 2, 0);
	pop_fails(t, -EINVAL, "out after in");
	ring(t, 256, F_INDIRECT);
	ind(t, IND_GPA, 0, DATA_GPA, 8, D_WRITE);
	ind(t, IND_GPA, 1, DATA_GPA, 8, 0);
	add1(t, IND_GPA, 32, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "out after in");
}

static void err_nested_indirect(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	ind(t, IND_GPA, 0, DATA_GPA, 8, 0);
	ind(t, IND_GPA, 1, IND_GPA, 32, D_INDIRECT);
	add1(t, IND_GPA, 32, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "nested indirect");
}

static void err_indirect_with_next(void **state)
{
	struct vt *t = *state;
	struct bufd b[2] = { { IND_GPA, 16, D_INDIRECT }, { DATA_GPA, 8, 0 } };

	/* 2.8.19: an indirect descriptor is a chain of its own. */
	ring(t, 256, F_INDIRECT);
	ind(t, IND_GPA, 0, DATA_GPA, 8, 0);
	add_chain(t, b, 2, 0);
	pop_fails(t, -EINVAL, "indirect descriptor with NEXT");
}

static void err_indirect_len_not_a_multiple_of_16(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	add1(t, IND_GPA, 24, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "invalid length");
}

static void err_indirect_table_too_big(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	add1(t, BIG_GPA, 65537 * 16, D_INDIRECT, 0);
	pop_fails(t, -E2BIG, "too big");
}

static void err_indirect_table_outside_guest_memory(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	add1(t, MEM_END - 16, 32, D_INDIRECT, 0);
	pop_fails(t, -EFAULT, "indirect");
	/* Wrapping 2^64. */
	ring(t, 256, F_INDIRECT);
	add1(t, ~0ULL - 15, 32, D_INDIRECT, 0);
	pop_fails(t, -EFAULT, "indirect");
}

static void err_buffer_outside_guest_memory(void **state)
{
	struct vt *t = *state;
	struct bufd b[2] = { { DATA_GPA, 8, 0 }, { MEM_END - 4, 8, 0 } };

	ring(t, 256, 0);
	add1(t, MEM_END, 8, 0, 0);
	pop_fails(t, -EFAULT, "translation failure");
	ring(t, 256, 0);
	add_chain(t, b, 2, 0);
	pop_fails(t, -EFAULT, "translation failure");
	/* A buffer wrapping past 2^64 is no buffer, even starting in memory
	 * ... or at the top of the space. */
	ring(t, 256, 0);
	add1(t, ~0ULL - 3, 8, 0, 0);
	pop_fails(t, -EFAULT, "translation failure");
	ring(t, 256, F_INDIRECT);
	ind(t, IND_GPA, 0, ~0ULL, 2, 0);
	add1(t, IND_GPA, 16, D_INDIRECT, 0);
	pop_fails(t, -EFAULT, "translation failure");
}

static void err_more_than_max_segs_segments(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	for (unsigned i = 0; i <= USV_VRING_MAX_SEGS; i++)
		ind(t, BIG_GPA, i, DATA_GPA + i * 16ULL, 8, 0);
	add1(t, BIG_GPA, (USV_VRING_MAX_SEGS + 1) * 16, D_INDIRECT, 0);
	pop_fails(t, -ENOBUFS, "translation failure");
}

static void err_more_descriptors_in_flight_than_the_ring(void **state)
{
	struct vt *t = *state;

	/* All 8 slots taken, none used: a driver that makes slot 0 available
	 * again (next lap) rewrites a descriptor we still own. */
	ring(t, 8, 0);
	for (unsigned i = 0; i < 8; i++) {
		add1(t, DATA_GPA, 8, 0, (uint16_t)i);
		assert_int_equal(pop(t), 0);
	}
	assert_int_equal(t->vr.last_avail_idx, pos(0, false));
	add1(t, DATA_GPA, 8, 0, 0);
	pop_fails(t, -EINVAL, "in flight");
	/* Once one is used (its element overwrote slot 0), the slot may
	 * come back. */
	assert_int_equal(push1(t, 0, 0), 0);
	put_slot(t, 0, DATA_GPA, 8, 0, avail_bits(false));
	assert_int_equal(pop(t), 0);
}

static void err_unreadable_ring(void **state)
{
	struct vt *t = *state;

	/* Descriptors out of the owner's reach: unmapped, the pinned
	 * /proc/self/mem refuses them. */
	ring(t, 256, 0);
	t->vr.desc = 0x1000; /* nothing mapped at the owner's page 1 */
	pop_fails(t, -EFAULT, "descriptor flags");
	assert_false(usv_vringh_has_avail(&t->vr));
}

/* ---- giving back and using ----------------------------------------------- */

static void unpop_gives_chains_back(void **state)
{
	struct vt *t = *state;
	struct bufd b[3] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };

	/* Chains of 3, 1 and 2 slots across the wrap of a ring of 4. */
	ring(t, 4, 0);
	add_chain(t, b, 3, 0);
	add_chain(t, b, 1, 1);
	assert_int_equal(pop(t), 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->vr.last_avail_idx, pos(0, false));
	usv_vringh_unpop(&t->vr, 1);
	assert_int_equal(t->vr.last_avail_idx, pos(3, true));
	assert_int_equal(t->vr.inflight_slots, 3);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 1);
	usv_vringh_unpop(&t->vr, 2);
	assert_int_equal(t->vr.last_avail_idx, pos(0, true));
	assert_int_equal(t->vr.inflight_n, 0);
	/* Taken again, in order, and used. */
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 1);
	usv_vringh_unpop(&t->vr, 5); /* more than taken: all of them */
	assert_int_equal(t->vr.last_avail_idx, pos(0, true));
	assert_int_equal(t->vr.inflight_slots, 0);
}

static void push_one(void **state)
{
	struct vt *t = *state;
	uint16_t id, flags;
	uint32_t len;

	ring(t, 256, 0);
	add1(t, DATA_GPA, 100, D_WRITE, 42);
	assert_int_equal(pop(t), 0);
	/* Nothing used before the push. */
	assert_false(take_used(t, 1, &id, &len, &flags));
	assert_int_equal(push1(t, 42, 60), 0);
	assert_true(take_used(t, 1, &id, &len, &flags));
	assert_int_equal(id, 42);
	assert_int_equal(len, 60);
	assert_int_equal(flags, D_AVAIL | D_USED | D_WRITE);
	assert_int_equal(t->vr.last_used_idx, pos(1, true));
}

static void push_skips_each_chains_slots(void **state)
{
	struct vt *t = *state;
	struct bufd b[3] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };
	uint32_t heads[2], lens[2] = { 0, 0 };
	uint16_t id, flags;
	uint32_t len;

	ring(t, 256, 0);
	add_chain(t, b, 3, 10);
	add_chain(t, b, 1, 11);
	assert_int_equal(pop(t), 0);
	heads[0] = t->c.head;
	assert_int_equal(pop(t), 0);
	heads[1] = t->c.head;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 2), 0);
	/* Elements at slots 0 and 3, as the driver looks for them. */
	assert_true(take_used(t, 3, &id, &len, &flags));
	assert_int_equal(id, 10);
	assert_true(take_used(t, 1, &id, &len, &flags));
	assert_int_equal(id, 11);
	assert_int_equal(t->vr.last_used_idx, pos(4, true));
	/* Slots 1 and 2 keep the driver's descriptors. */
	assert_int_equal(ld16(t->drv->desc + 16 + 14) & (D_AVAIL | D_USED), D_AVAIL);
}

static void chains_in_flight_survive_a_feature_change(void **state)
{
	struct vt *t = *state;
	struct bufd b[3] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };
	uint16_t id, flags;
	uint32_t len;

	/* QEMU acks LOG_ALL on running rings for a migration: the setup
	 * that follows must not forget the chain taken. */
	ring(t, 256, 0);
	add_chain(t, b, 3, 7);
	assert_int_equal(pop(t), 0);
	usv_vringh_setup(&t->vr, t->m, 256, uva_of(t, RING_GPA), uva_of(t, drv_ev_gpa(t)),
			 uva_of(t, drv_ev_gpa(t) + 4), F_PACKED | USV_BIT(USV_F_LOG_ALL));
	assert_int_equal(push1(t, 7, 0), 0);
	assert_true(take_used(t, 3, &id, &len, &flags));
	assert_int_equal(id, 7);
	assert_int_equal(t->vr.last_used_idx, pos(3, true));
}

static void err_push_more_than_taken(void **state)
{
	struct vt *t = *state;
	uint32_t heads[2] = { 0, 0 }, lens[2] = { 0, 0 };

	ring(t, 256, 0);
	add1(t, DATA_GPA, 8, 0, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 2), -EINVAL);
	assert_non_null(strstr(t->vr.err, "2 buffers used, 1 taken"));
	assert_int_equal(t->vr.last_used_idx, pos(0, true));
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 0), 0);
}

static void err_push_to_an_unwritable_ring(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	add1(t, DATA_GPA, 8, 0, 0);
	assert_int_equal(pop(t), 0);
	t->vr.desc = 0x1000;
	t->vr.ldesc = NULL;
	assert_int_equal(push1(t, 0, 0), -EFAULT);
	assert_non_null(strstr(t->vr.err, "used element"));
	assert_int_equal(t->vr.last_used_idx, pos(0, true));
}

static void log_setup(struct vt *t, uint64_t features)
{
	ring(t, 256, features);
	memset(t->bitmap, 0, sizeof(t->bitmap));
	t->vr.log.base = (uintptr_t)t->bitmap;
	t->vr.log_used = true;
	t->vr.log_addr = drv_ev_gpa(t) + 4; /* QEMU's: the device area */
}

static void push_logs_the_used_elements(void **state)
{
	struct vt *t = *state;
	uint8_t want[sizeof(t->bitmap)] = { 0 };

	/* Used elements are written in the descriptor ring (gpa 0x10000 ..
	 * 0x11000 for 256 slots): slot 255 lies in page 0x10. A ring of 512
	 * puts slot 256 in page 0x11. */
	log_setup(t, 0);
	for (unsigned i = 0; i < 256; i++)
		add1(t, DATA_GPA, 8, 0, (uint16_t)i);
	for (unsigned i = 0; i < 256; i++) {
		assert_int_equal(pop(t), 0);
		assert_int_equal(push1(t, t->c.head, 0), 0);
	}
	want[0x10 / 8] |= 1u << (0x10 % 8);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	assert_true(t->vr.log.written);
	/* The device event goes to the page of log_addr (0x11). */
	usv_vringh_disable_notify(&t->vr);
	want[0x11 / 8] |= 1u << (0x11 % 8);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* Without VHOST_VRING_F_LOG nothing is logged. */
	log_setup(t, 0);
	t->vr.log_used = false;
	add1(t, DATA_GPA, 8, 0, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(push1(t, 0, 0), 0);
	memset(want, 0, sizeof(want));
	assert_memory_equal(t->bitmap, want, sizeof(want));
}

/* ---- event suppression ----------------------------------------------------- */

static void use_one(struct vt *t)
{
	add1(t, DATA_GPA, 8, 0, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(push1(t, 0, 0), 0);
}

static void need_signal_follows_the_driver_flags(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	use_one(t);
	drv_event_set(t, 0, EV_ENABLE);
	assert_true(usv_vringh_need_signal(&t->vr));
	drv_event_set(t, 0, EV_DISABLE);
	assert_false(usv_vringh_need_signal(&t->vr));
	/* DESC without EVENT_IDX is not the driver's to ask: signal. So is a
	 * reserved value. */
	drv_event_set(t, pos(200, true), EV_DESC);
	assert_true(usv_vringh_need_signal(&t->vr));
	drv_event_set(t, 0, 3);
	assert_true(usv_vringh_need_signal(&t->vr));
}

static void need_signal_notify_on_empty(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_NOTIFY_ON_EMPTY);
	drv_event_set(t, 0, EV_DISABLE);
	use_one(t);
	/* Ran out of buffers: signal even though the driver disabled. */
	assert_true(usv_vringh_need_signal(&t->vr));
	add1(t, DATA_GPA, 8, 0, 0);
	assert_false(usv_vringh_need_signal(&t->vr));
}

static void need_signal_with_event_idx(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_EVENT_IDX);
	drv_event_set(t, pos(2, true), EV_DESC);
	/* The first time: nothing signalled yet, signal. */
	use_one(t);
	assert_true(usv_vringh_need_signal(&t->vr));
	/* Used position 1 -> 2: event 2 not passed. */
	use_one(t);
	assert_false(usv_vringh_need_signal(&t->vr));
	/* 2 -> 3 writes slot 2: passed. */
	use_one(t);
	assert_true(usv_vringh_need_signal(&t->vr));
	/* A batch from 3 to 6 passes event 4 (in the middle of a chain). */
	drv_event_set(t, pos(4, true), EV_DESC);
	{
		struct bufd b[3] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };

		add_chain(t, b, 3, 1);
		assert_int_equal(pop(t), 0);
		assert_int_equal(push1(t, 1, 0), 0);
	}
	assert_true(usv_vringh_need_signal(&t->vr));
	/* An event of the other lap at the same slot is a lap away. */
	drv_event_set(t, pos(6, false), EV_DESC);
	use_one(t);
	assert_false(usv_vringh_need_signal(&t->vr));
	/* Disabled wins, but the position still counts as signalled. */
	drv_event_set(t, pos(7, true), EV_DISABLE);
	use_one(t);
	assert_false(usv_vringh_need_signal(&t->vr));
	drv_event_set(t, pos(7, true), EV_DESC);
	use_one(t);
	assert_false(usv_vringh_need_signal(&t->vr));
}

static void need_signal_event_idx_wraps(void **state)
{
	struct vt *t = *state;
	uint16_t ev[] = { pos(6, true), pos(7, true), pos(0, false), pos(1, false) };
	bool want[] = { false, true, true, false };

	/* Used position 7/1 -> 1/0 (two single-slot chains across the
	 * wrap): passes events at 7/1 and 0/0, not 6/1 (before) nor 1/0. */
	for (unsigned i = 0; i < 4; i++) {
		uint32_t heads[2] = { 0, 1 }, lens[2] = { 0, 0 };

		ring(t, 8, F_EVENT_IDX);
		t->vr.last_avail_idx = t->vr.avail_idx = t->vr.last_used_idx = pos(7, true);
		t->drv->next_avail = t->drv->next_used = 7;
		t->vr.signalled_used = pos(7, true);
		t->vr.signalled_used_valid = true;
		add1(t, DATA_GPA, 8, 0, 0);
		add1(t, DATA_GPA, 8, 0, 1);
		assert_int_equal(pop(t), 0);
		assert_int_equal(pop(t), 0);
		assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 2), 0);
		assert_int_equal(t->vr.last_used_idx, pos(1, false));
		drv_event_set(t, ev[i], EV_DESC);
		if (usv_vringh_need_signal(&t->vr) != want[i])
			fail_msg("event %u/%u: expected %d", ev[i] & 0x7fff, ev[i] >> 15,
				 want[i]);
	}
}

static void need_signal_forgets_after_a_full_lap(void **state)
{
	struct vt *t = *state;

	/* Pushes that go round (2 * num positions, both laps) onto the last
	 * signalled position: it says nothing any more, signal. */
	ring(t, 8, F_EVENT_IDX);
	drv_event_set(t, pos(0, false), EV_DESC);
	use_one(t);
	assert_true(usv_vringh_need_signal(&t->vr)); /* first: signalled at 1/1 */
	for (unsigned i = 0; i < 15; i++)
		use_one(t);
	assert_int_equal(t->vr.last_used_idx, pos(0, true));
	assert_true(t->vr.signalled_used_valid);
	use_one(t);
	assert_int_equal(t->vr.last_used_idx, pos(1, true));
	assert_false(t->vr.signalled_used_valid);
	drv_event_set(t, pos(5, true), EV_DESC);
	assert_true(usv_vringh_need_signal(&t->vr));
}

static void notify_control_without_event_idx(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(dev_event_flags(t), EV_DISABLE);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(dev_event_flags(t), EV_ENABLE);
	/* Enabled already: nothing to do. */
	assert_false(usv_vringh_enable_notify(&t->vr));
	/* Buffers slipped in while disabled. */
	usv_vringh_disable_notify(&t->vr);
	add1(t, DATA_GPA, 8, 0, 0);
	assert_true(usv_vringh_enable_notify(&t->vr));
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
}

static void notify_control_with_event_idx(void **state)
{
	struct vt *t = *state;
	struct bufd b[2] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };

	ring(t, 8, F_EVENT_IDX);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(dev_event_flags(t), EV_DISABLE);
	/* Enable asks for a kick at the first position not seen. */
	add_chain(t, b, 2, 0);
	assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(dev_event_flags(t), EV_DESC);
	assert_int_equal(dev_event_off(t), pos(2, true));
	/* Chains given back stay seen: RX holds a frame on them until the
	 * driver adds more. */
	usv_vringh_disable_notify(&t->vr);
	usv_vringh_unpop(&t->vr, 1);
	assert_true(usv_vringh_has_avail(&t->vr));
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(dev_event_off(t), pos(2, true));
	usv_vringh_disable_notify(&t->vr);
	add1(t, DATA_GPA, 8, 0, 1);
	assert_true(usv_vringh_enable_notify(&t->vr));
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(pop(t), 0);
	assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(dev_event_off(t), pos(3, true));
	/* Across the wrap: 3 + 5 slots is position 0 of the next lap. */
	{
		struct bufd c[5] = { { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 },
				     { DATA_GPA, 8, 0 }, { DATA_GPA, 8, 0 } };

		usv_vringh_disable_notify(&t->vr);
		add_chain(t, c, 5, 2);
		assert_int_equal(pop(t), 0);
		assert_false(usv_vringh_enable_notify(&t->vr));
		assert_int_equal(dev_event_off(t), pos(0, false));
	}
}

/* A driver takes back a chain given back (flags no longer available) and
 * adds one after it: enable_notify must not report the later one, which
 * pop never reaches (the RX handler would be requeued for ever). */
static void a_chain_given_back_and_taken_back_is_not_seen(void **state)
{
	struct vt *t = *state;

	ring(t, 8, F_EVENT_IDX);
	add1(t, DATA_GPA, 8, D_WRITE, 0);
	assert_int_equal(pop(t), 0);
	usv_vringh_unpop(&t->vr, 1);
	put_slot(t, 0, DATA_GPA, 8, 0, D_WRITE); /* neither AVAIL nor USED */
	add1(t, DATA_GPA, 8, D_WRITE, 1);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(pop(t), -EAGAIN);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(dev_event_off(t), pos(0, true));
	/* Made available again: found, and taken. */
	usv_vringh_disable_notify(&t->vr);
	put_slot(t, 0, DATA_GPA, 8, 0, D_WRITE | avail_bits(true));
	assert_true(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 0);
}

static void write_used_flags_publishes_the_device_event(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_EVENT_IDX);
	t->vr.used_flags = USV_VRING_USED_F_NO_NOTIFY;
	assert_int_equal(usv_vringh_write_used_flags(&t->vr), 0);
	assert_int_equal(dev_event_flags(t), EV_DISABLE);
	t->vr.used_flags = 0;
	assert_int_equal(usv_vringh_write_used_flags(&t->vr), 0);
	assert_int_equal(dev_event_flags(t), EV_DESC);
	assert_int_equal(dev_event_off(t), WRAP);
}

static void describe_says_packed(void **state)
{
	struct vt *t = *state;
	char line[256];

	ring(t, 256, 0);
	add1(t, DATA_GPA, 8, 0, 0);
	assert_int_equal(pop(t), 0);
	usv_vringh_describe(&t->vr, line, sizeof(line));
	assert_non_null(strstr(line, "packed last_avail=1/1"));
	assert_non_null(strstr(line, "last_used=0/1 inflight=1"));
}

/* ---- with a device IOTLB (ACCESS_PLATFORM): addresses are IOVAs --------- */

#define IOVA_BASE 0x7700000000ULL /* region 0 mapped here in one range */
#define IOVA(gpa) (IOVA_BASE + (gpa))
#define UNMAPPED_IOVA 0xa000000000ULL

/* The ring's three parts as IOVAs, through tlb (which may map nothing). */
static void iotlb_use(struct vt *t, struct usv_iotlb *tlb)
{
	t->vr.desc = IOVA(RING_GPA);
	t->vr.avail = IOVA(drv_ev_gpa(t));
	t->vr.used = IOVA(drv_ev_gpa(t) + 4);
	usv_vringh_set_iotlb(&t->vr, tlb);
}

/* The ring at RING_GPA seen through IOVAs, region 0 mapped in one range
 * with perm (the passthrough case). */
static struct usv_iotlb *iotlb_ring(struct vt *t, uint32_t num, uint64_t features, uint8_t perm)
{
	struct usv_iotlb *tlb = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);

	assert_non_null(tlb);
	ring(t, num, features);
	assert_int_equal(usv_iotlb_add(tlb, IOVA_BASE, IOVA_BASE + R0_SIZE - 1,
				       uva_of(t, 0), perm), 0);
	iotlb_use(t, tlb);
	/* Nothing is reached through our own mapping before the prefetch. */
	assert_null(t->vr.ldesc);
	assert_false(t->vr.meta_ok);
	return tlb;
}

static void iotlb_ring_and_buffers_are_iovas(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 256, 0, USV_IOTLB_RW);
	struct bufd b[2] = { { IOVA(DATA_GPA), 100, 0 }, { IOVA(DATA_GPA + 0x1000), 200, D_WRITE } };
	uint16_t id, flags;
	uint32_t len;

	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	/* One range over RAM we map: the ring is reached directly. */
	ring_reached_as_mapped(t);
	add_chain(t, b, 2, 9);
	assert_true(usv_vringh_has_avail(&t->vr));
	assert_int_equal(pop(t), 0);
	chain_is(t, 9, 1, 100, 1, 200);
	seg_is(t, 0, DATA_GPA, 100);
	seg_is(t, 1, DATA_GPA + 0x1000, 200);
	assert_int_equal(push1(t, 9, 200), 0);
	assert_true(take_used(t, 2, &id, &len, &flags));
	assert_int_equal(id, 9);
	assert_int_equal(len, 200);
	/* The device event is written through the IOTLB too. */
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(dev_event_flags(t), EV_DISABLE);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(dev_event_flags(t), EV_ENABLE);
	usv_iotlb_free(tlb);
}

/* Each part of the ring needs its access: the descriptor ring both (used
 * elements are written there), the driver event read, the device event
 * written. A part not mapped is asked for; one mapped without the access
 * just waits, as the split ring's. */
static void iotlb_prefetch_asks_for_each_part(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);
	uint64_t ev = drv_ev_gpa(t);

	assert_non_null(tlb);
	ring(t, 256, 0);
	ev = drv_ev_gpa(t);
	/* The descriptor ring read-only, the events not mapped. */
	assert_int_equal(usv_iotlb_add(tlb, IOVA(RING_GPA), IOVA(ev) - 1, uva_of(t, RING_GPA),
				       USV_IOTLB_RO), 0);
	iotlb_use(t, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), USV_VRING_MISS);
	assert_false(t->vr.miss); /* mapped, without write access: waits */
	usv_iotlb_del(tlb, IOVA(RING_GPA), IOVA(ev) - 1);
	assert_int_equal(usv_iotlb_add(tlb, IOVA(RING_GPA), IOVA(ev) - 1, uva_of(t, RING_GPA),
				       USV_IOTLB_RW), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), USV_VRING_MISS);
	assert_true(t->vr.miss);
	assert_true(t->vr.miss_iova == IOVA(ev));
	assert_int_equal(t->vr.miss_access, USV_IOTLB_RO);
	assert_int_equal(usv_iotlb_add(tlb, IOVA(ev), IOVA(ev) + 3, uva_of(t, ev), USV_IOTLB_RO),
			 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), USV_VRING_MISS);
	assert_true(t->vr.miss_iova == IOVA(ev + 4));
	assert_int_equal(t->vr.miss_access, USV_IOTLB_WO);
	assert_int_equal(usv_iotlb_add(tlb, IOVA(ev + 4), IOVA(ev + 4) + 3, uva_of(t, ev + 4),
				       USV_IOTLB_WO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	assert_true(t->vr.meta_ok);
	assert_int_equal(pop(t), -EAGAIN);
	usv_iotlb_free(tlb);
}

static void iotlb_an_unmapped_buffer_or_table_is_a_miss_and_nothing_is_taken(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 256, F_INDIRECT, USV_IOTLB_RW);
	struct bufd b[2] = { { IOVA(DATA_GPA), 16, 0 }, { UNMAPPED_IOVA + 0x10, 64, D_WRITE } };

	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	add_chain(t, b, 2, 3);
	assert_int_equal(pop(t), USV_VRING_MISS);
	assert_true(t->vr.miss);
	assert_true(t->vr.miss_iova == UNMAPPED_IOVA + 0x10);
	assert_int_equal(t->vr.miss_access, USV_IOTLB_WO);
	assert_int_equal(t->vr.last_avail_idx, pos(0, true));
	/* The answer: the same chain now goes. */
	assert_int_equal(usv_iotlb_add(tlb, UNMAPPED_IOVA, UNMAPPED_IOVA + 0xfff,
				       uva_of(t, DATA_GPA + 0x2000), USV_IOTLB_RW), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 3, 1, 16, 1, 64);
	seg_is(t, 1, DATA_GPA + 0x2010, 64);
	/* An indirect table at an unmapped IOVA is a miss too. */
	add1(t, UNMAPPED_IOVA + 0x100000, 32, D_INDIRECT, 4);
	assert_int_equal(pop(t), USV_VRING_MISS);
	assert_true(t->vr.miss_iova == UNMAPPED_IOVA + 0x100000);
	assert_int_equal(t->vr.miss_access, USV_IOTLB_RO);
	assert_int_equal(t->vr.last_avail_idx, pos(2, true));
	/* Mapped, it is read through the IOTLB, its entries IOVAs too. */
	ind(t, IND_GPA, 0, IOVA(DATA_GPA), 10, 0);
	ind(t, IND_GPA, 1, IOVA(DATA_GPA + 0x100), 20, D_WRITE);
	assert_int_equal(usv_iotlb_add(tlb, UNMAPPED_IOVA + 0x100000,
				       UNMAPPED_IOVA + 0x100fff, uva_of(t, IND_GPA),
				       USV_IOTLB_RO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 4, 1, 10, 1, 20);
	seg_is(t, 0, DATA_GPA, 10);
	usv_iotlb_free(tlb);
}

static void iotlb_a_write_through_a_read_only_range_breaks_the_ring(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 256, 0, USV_IOTLB_RW);

	assert_int_equal(usv_iotlb_add(tlb, UNMAPPED_IOVA, UNMAPPED_IOVA + 0xfff,
				       uva_of(t, DATA_GPA), USV_IOTLB_RO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	add1(t, UNMAPPED_IOVA, 64, D_WRITE, 0);
	assert_int_equal(pop(t), -EPERM);
	assert_non_null(strstr(t->vr.err, "translation failure"));
	assert_false(t->vr.miss);
	usv_iotlb_free(tlb);
}

/* The dirty log takes guest addresses: used elements and the device event
 * are logged at the guest pages under their IOVAs (QEMU's log_addr is an
 * IOVA too, and not used). */
static void iotlb_push_logs_by_guest_address(void **state)
{
	struct vt *t = *state;
	uint8_t want[sizeof(t->bitmap)] = { 0 };
	struct usv_iotlb *tlb;

	log_setup(t, 0);
	t->vr.log_addr = IOVA(drv_ev_gpa(t) + 4);
	tlb = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);
	assert_non_null(tlb);
	assert_int_equal(usv_iotlb_add(tlb, IOVA_BASE, IOVA_BASE + R0_SIZE - 1, uva_of(t, 0),
				       USV_IOTLB_RW), 0);
	iotlb_use(t, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	add1(t, IOVA(DATA_GPA), 8, 0, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(push1(t, 0, 0), 0);
	want[0x10 / 8] |= 1u << (0x10 % 8);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	usv_vringh_disable_notify(&t->vr);
	want[0x11 / 8] |= 1u << (0x11 % 8);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	usv_iotlb_free(tlb);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(pop_on_an_empty_ring_is_eagain),
		BOTH(simple_chain),
		BOTH(chain_out_then_in_takes_the_last_id),
		BOTH(zero_length_descriptor_is_not_translated),
		BOTH(indirect_table_takes_all_its_entries),
		BOTH(indirect_table_of_65536_entries),
		BOTH(chain_spanning_two_regions),
		BOTH(a_chain_wraps_at_the_ring_end),
		BOTH(a_chain_of_num_descriptors),
		BOTH(wrap_counters_across_many_laps),
		BOTH(a_chain_of_1024_zero_length_entries_is_taken),
		BOTH(err_zero_length_indirect_storm),
		BOTH(a_ring_of_2048_bounds_chains_at_2048),
		BOTH(err_chain_longer_than_the_ring),
		BOTH(err_buffer_id_at_or_above_num),
		BOTH(err_position_at_or_above_num),
		BOTH(err_out_after_in),
		BOTH(err_nested_indirect),
		BOTH(err_indirect_with_next),
		BOTH(err_indirect_len_not_a_multiple_of_16),
		BOTH(err_indirect_table_too_big),
		BOTH(err_indirect_table_outside_guest_memory),
		BOTH(err_buffer_outside_guest_memory),
		BOTH(err_more_than_max_segs_segments),
		BOTH(err_more_descriptors_in_flight_than_the_ring),
		UNMAPPED(err_unreadable_ring),
		BOTH(unpop_gives_chains_back),
		BOTH(push_one),
		BOTH(push_skips_each_chains_slots),
		BOTH(chains_in_flight_survive_a_feature_change),
		BOTH(err_push_more_than_taken),
		UNMAPPED(err_push_to_an_unwritable_ring),
		BOTH(push_logs_the_used_elements),
		BOTH(need_signal_follows_the_driver_flags),
		BOTH(need_signal_notify_on_empty),
		BOTH(need_signal_with_event_idx),
		BOTH(need_signal_event_idx_wraps),
		BOTH(need_signal_forgets_after_a_full_lap),
		BOTH(notify_control_without_event_idx),
		BOTH(notify_control_with_event_idx),
		BOTH(a_chain_given_back_and_taken_back_is_not_seen),
		BOTH(write_used_flags_publishes_the_device_event),
		BOTH(describe_says_packed),
		BOTH(iotlb_ring_and_buffers_are_iovas),
		BOTH(iotlb_prefetch_asks_for_each_part),
		BOTH(iotlb_an_unmapped_buffer_or_table_is_a_miss_and_nothing_is_taken),
		BOTH(iotlb_a_write_through_a_read_only_range_breaks_the_ring),
		BOTH(iotlb_push_logs_by_guest_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
