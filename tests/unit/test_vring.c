/* SPDX-License-Identifier: MIT */
/*
 * The host side of the split ring (core/vringh.c) against guest memory built
 * here: a buffer described by a two-region table, rings laid out in it as a
 * virtio driver lays them out (little-endian; the tests run on x86), and this
 * test playing the driver.
 *
 * Every ring case runs twice (vring_fixture.h): with the regions "mapped" (each region's local
 * pointer set, accesses are memcpy) and "unmapped" (no local pointer, the
 * table's owner is this process: rings and indirect tables through
 * /proc/self/mem, as when QEMU's RAM is private).
 *
 * Error cases expect the errno drivers/vhost/vhost.c (Linux 6.1, bookworm)
 * returns for the same ring. Cases named kernel_* cover orderings where
 * usvhost is known to answer differently from the kernel: they assert the
 * kernel's answer; while usvhost still gives the known different answer they
 * are skipped with a note (USV_TEST_STRICT=1 makes that a failure).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/caller.h"
#include "core/guestmem.h"
#include "core/iotlb.h"
#include "usvhost/vringh.h"
#include "vring_fixture.h"

#define IND2_GPA 0x28000ULL  /* a second indirect table */

#define F_LOG_ALL USV_BIT(USV_F_LOG_ALL)

/* struct vring_desc as the driver writes it. */
struct drv_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* The driver's split ring: desc, then avail, then used (num <= 2048). */
struct vt_drv {
	uint8_t *desc, *avail, *used; /* the ring parts, in buf */
	uint16_t avail_idx;           /* what the driver published */
};

const size_t vt_drv_size = sizeof(struct vt_drv);

/* ---- the driver's side ----------------------------------------------------- */

/* Lays out a ring of num entries at RING_GPA (all zero) and sets vr up. */
static void ring(struct vt *t, uint32_t num, uint64_t features)
{
	uint64_t desc = RING_GPA;
	uint64_t avail = desc + 16ULL * num;
	uint64_t used = (avail + 4 + 2ULL * num + 2 + 3) & ~3ULL;

	assert_true(num <= 2048);
	t->num = num;
	t->drv->desc = gp(t, desc);
	t->drv->avail = gp(t, avail);
	t->drv->used = gp(t, used);
	memset(t->drv->desc, 0, (size_t)(used + 4 + 8ULL * num + 2 - desc));
	t->drv->avail_idx = 0;
	memset(&t->vr, 0, sizeof(t->vr));
	usv_vringh_setup(&t->vr, t->m, num, uva_of(t, desc), uva_of(t, avail),
			 uva_of(t, used), features);
	t->vr.log = (struct usv_vringh_log){ .lock = &t->log_lock, .memfd = t->m->memfd,
					    .base = 0, .fd = -1 };
	if (t->mapped) {
		assert_ptr_equal(t->vr.ldesc, t->drv->desc);
		assert_ptr_equal(t->vr.lavail, t->drv->avail);
		assert_ptr_equal(t->vr.lused, t->drv->used);
	} else {
		assert_null(t->vr.ldesc);
		assert_null(t->vr.lavail);
		assert_null(t->vr.lused);
	}
}

static void put_desc(uint8_t *table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct drv_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(table + 16ULL * i, &d, sizeof(d));
}

static void desc(struct vt *t, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	assert_true(i < t->num);
	put_desc(t->drv->desc, i, addr, len, flags, next);
}

static void ind(struct vt *t, uint64_t table_gpa, unsigned i, uint64_t addr,
		uint32_t len, uint16_t flags, uint16_t next)
{
	struct drv_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	/* A table may cross the region boundary: write it byte-wise by gpa. */
	for (unsigned k = 0; k < sizeof(d); k++)
		*gp(t, table_gpa + 16ULL * i + k) = ((uint8_t *)&d)[k];
}

static void avail_idx_set(struct vt *t, uint16_t idx)
{
	t->drv->avail_idx = idx;
	st16(t->drv->avail + 2, idx);
}

/* Makes head available: avail->ring[idx % num] = head, then avail->idx++. */
static void avail_add(struct vt *t, uint16_t head)
{
	memcpy(t->drv->avail + 4 + 2ULL * (t->drv->avail_idx & (t->num - 1)), &head, 2);
	avail_idx_set(t, (uint16_t)(t->drv->avail_idx + 1));
}

static void avail_flags_set(struct vt *t, uint16_t flags)
{
	st16(t->drv->avail, flags);
}

/* used_event (VIRTIO_F_EVENT_IDX): avail->ring[num]. */
static void used_event_set(struct vt *t, uint16_t v)
{
	st16(t->drv->avail + 4 + 2ULL * t->num, v);
}

static uint16_t used_flags(struct vt *t)
{
	return ld16(t->drv->used);
}

static uint16_t used_idx(struct vt *t)
{
	return ld16(t->drv->used + 2);
}

/* avail_event: used->ring[num]. */
static uint16_t avail_event(struct vt *t)
{
	return ld16(t->drv->used + 4 + 8ULL * t->num);
}

static void used_elem(struct vt *t, unsigned slot, uint32_t *id, uint32_t *len)
{
	memcpy(id, t->drv->used + 4 + 8ULL * slot, 4);
	memcpy(len, t->drv->used + 4 + 8ULL * slot + 4, 4);
}

/* Sets both the device's and the driver's position (SET_VRING_BASE). */
static void base_set(struct vt *t, uint16_t base)
{
	t->vr.last_avail_idx = t->vr.avail_idx = base;
	avail_idx_set(t, base);
}

/* Sets the bits of pages [gpa, gpa+len) in a bitmap, independently. */
static void want_pages(uint8_t *want, uint64_t gpa, uint64_t len)
{
	for (uint64_t p = gpa / 4096; len && p <= (gpa + len - 1) / 4096; p++)
		want[p / 8] |= (uint8_t)(1u << (p % 8));
}

/* ---- chains ---------------------------------------------------------------- */

static void pop_on_an_empty_ring_is_eagain(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	assert_int_equal(pop(t), -EAGAIN);
	assert_int_equal(t->vr.last_avail_idx, 0);
	assert_false(usv_vringh_has_avail(&t->vr));
	base_set(t, 0xfff0);
	assert_int_equal(pop(t), -EAGAIN);
	assert_int_equal(t->vr.last_avail_idx, 0xfff0);
}

static void simple_chain(void **state)
{
	struct vt *t = *state;
	uint8_t out[100];

	ring(t, 256, 0);
	fill(t, DATA_GPA, 100, 1);
	desc(t, 5, DATA_GPA, 100, 0, 0);
	avail_add(t, 5);
	assert_true(usv_vringh_has_avail(&t->vr));
	assert_int_equal(pop(t), 0);
	chain_is(t, 5, 1, 100, 0, 0);
	seg_is(t, 0, DATA_GPA, 100);
	assert_int_equal(t->vr.last_avail_idx, 1);
	assert_int_equal(usv_chain_read(&t->c, 0, out, 100, t->m), 0);
	assert_memory_equal(out, gp(t, DATA_GPA), 100);
	/* One chain taken: the ring is empty again. */
	assert_int_equal(pop(t), -EAGAIN);
	assert_int_equal(t->vr.last_avail_idx, 1);
}

static void multi_descriptor_chains(void **state)
{
	struct vt *t = *state;
	uint8_t out[600], want[600];

	ring(t, 256, 0);
	/* Three readable descriptors, in ring order 10 -> 3 -> 200. */
	fill(t, DATA_GPA, 100, 11);
	fill(t, DATA_GPA + 0x1000, 200, 22);
	fill(t, DATA_GPA + 0x3000, 300, 33);
	desc(t, 10, DATA_GPA, 100, D_NEXT, 3);
	desc(t, 3, DATA_GPA + 0x1000, 200, D_NEXT, 200);
	desc(t, 200, DATA_GPA + 0x3000, 300, 0, 77 /* ignored: no NEXT */);
	/* A second chain of two writable descriptors after it. */
	desc(t, 0, DATA_GPA + 0x8000, 64, D_WRITE | D_NEXT, 1);
	desc(t, 1, DATA_GPA + 0x9000, 64, D_WRITE, 0);
	avail_add(t, 10);
	avail_add(t, 0);

	assert_int_equal(pop(t), 0);
	chain_is(t, 10, 3, 600, 0, 0);
	seg_is(t, 0, DATA_GPA, 100);
	seg_is(t, 1, DATA_GPA + 0x1000, 200);
	seg_is(t, 2, DATA_GPA + 0x3000, 300);
	memcpy(want, gp(t, DATA_GPA), 100);
	memcpy(want + 100, gp(t, DATA_GPA + 0x1000), 200);
	memcpy(want + 300, gp(t, DATA_GPA + 0x3000), 300);
	assert_int_equal(usv_chain_read(&t->c, 0, out, 600, t->m), 0);
	assert_memory_equal(out, want, 600);
	/* From an offset inside the second segment, across the third. */
	assert_int_equal(usv_chain_read(&t->c, 150, out, 400, t->m), 0);
	assert_memory_equal(out, want + 150, 400);
	/* More than the chain holds. */
	assert_int_equal(usv_chain_read(&t->c, 1, out, 600, t->m), -EFAULT);

	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 0, 0, 2, 128);
	seg_is(t, 0, DATA_GPA + 0x8000, 64);
	seg_is(t, 1, DATA_GPA + 0x9000, 64);
	assert_int_equal(t->vr.last_avail_idx, 2);
}

static void out_then_in(void **state)
{
	struct vt *t = *state;
	uint8_t hdr[10], reply[96], back[96];

	ring(t, 256, 0);
	/* A request (out: 10 + 20 bytes), then room for the reply (in: 32 + 64). */
	fill(t, DATA_GPA, 10, 1);
	fill(t, DATA_GPA + 0x100, 20, 2);
	memset(gp(t, DATA_GPA + 0x1000), 0xee, 32);
	memset(gp(t, DATA_GPA + 0x2000), 0xee, 64);
	desc(t, 7, DATA_GPA, 10, D_NEXT, 8);
	desc(t, 8, DATA_GPA + 0x100, 20, D_NEXT, 9);
	desc(t, 9, DATA_GPA + 0x1000, 32, D_WRITE | D_NEXT, 10);
	desc(t, 10, DATA_GPA + 0x2000, 64, D_WRITE, 0);
	avail_add(t, 7);
	assert_int_equal(pop(t), 0);
	chain_is(t, 7, 2, 30, 2, 96);
	seg_is(t, 0, DATA_GPA, 10);
	seg_is(t, 1, DATA_GPA + 0x100, 20);
	seg_is(t, 2, DATA_GPA + 0x1000, 32);
	seg_is(t, 3, DATA_GPA + 0x2000, 64);

	/* Reads see only the out part, writes land only in the in part. */
	assert_int_equal(usv_chain_read(&t->c, 0, hdr, 10, t->m), 0);
	assert_memory_equal(hdr, gp(t, DATA_GPA), 10);
	assert_int_equal(usv_chain_read(&t->c, 0, reply, 31, t->m), -EFAULT);
	for (unsigned i = 0; i < sizeof(reply); i++)
		reply[i] = (uint8_t)(0x80 + i);
	assert_int_equal(usv_chain_write(&t->c, 0, reply, 96, t->m), 0);
	assert_memory_equal(gp(t, DATA_GPA + 0x1000), reply, 32);
	assert_memory_equal(gp(t, DATA_GPA + 0x2000), reply + 32, 64);
	assert_int_equal(usv_chain_read_in(&t->c, 0, back, 96, t->m), 0);
	assert_memory_equal(back, reply, 96);
	/* At an offset that starts in the second in segment. */
	assert_int_equal(usv_chain_write(&t->c, 40, "XY", 2, t->m), 0);
	assert_memory_equal(gp(t, DATA_GPA + 0x2000 + 8), "XY", 2);
	assert_int_equal(usv_chain_write(&t->c, 95, "XY", 2, t->m), -EFAULT);
	/* The request was not touched. */
	assert_memory_equal(hdr, gp(t, DATA_GPA), 10);
}

static void zero_length_descriptor_is_not_translated(void **state)
{
	struct vt *t = *state;

	/* The kernel's translate_desc() loops while len > 0: a zero-length
	 * buffer gives no iovec and its address is never looked up. */
	ring(t, 256, 0);
	desc(t, 0, DATA_GPA, 16, D_NEXT, 1);
	desc(t, 1, 0xdead00000000ULL, 0, D_NEXT, 2);
	desc(t, 2, DATA_GPA + 0x100, 8, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 1, 16, 1, 8);
	seg_is(t, 0, DATA_GPA, 16);
	seg_is(t, 1, DATA_GPA + 0x100, 8);
}

static void indirect_table(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	/* Entries are read in table order; next fields are ignored. */
	ind(t, IND_GPA, 0, DATA_GPA, 12, D_NEXT, 9);
	ind(t, IND_GPA, 1, DATA_GPA + 0x1000, 1000, D_NEXT, 0);
	ind(t, IND_GPA, 2, DATA_GPA + 0x2000, 1500, D_WRITE | D_NEXT, 5);
	ind(t, IND_GPA, 3, DATA_GPA + 0x4000, 500, D_WRITE, 1);
	desc(t, 42, IND_GPA, 4 * 16, D_INDIRECT, 0);
	avail_add(t, 42);
	assert_int_equal(pop(t), 0);
	chain_is(t, 42, 2, 1012, 2, 2000);
	seg_is(t, 0, DATA_GPA, 12);
	seg_is(t, 1, DATA_GPA + 0x1000, 1000);
	seg_is(t, 2, DATA_GPA + 0x2000, 1500);
	seg_is(t, 3, DATA_GPA + 0x4000, 500);

	/* A table with unused entries after the last one (no NEXT). */
	ind(t, IND2_GPA, 0, DATA_GPA + 0x6000, 77, D_WRITE, 0);
	ind(t, IND2_GPA, 1, 0xdead00000000ULL, 1, 0, 0);
	desc(t, 43, IND2_GPA, 2 * 16, D_INDIRECT, 0);
	avail_add(t, 43);
	assert_int_equal(pop(t), 0);
	chain_is(t, 43, 0, 0, 1, 77);
	seg_is(t, 0, DATA_GPA + 0x6000, 77);
	assert_int_equal(t->vr.last_avail_idx, 2);
}

static void indirect_followed_by_next(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	/* head 1: out in the ring, then an indirect table (NEXT set on the
	 * indirect descriptor), then a writable descriptor from the ring. */
	desc(t, 1, DATA_GPA, 10, D_NEXT, 2);
	ind(t, IND_GPA, 0, DATA_GPA + 0x100, 20, D_NEXT, 0);
	ind(t, IND_GPA, 1, DATA_GPA + 0x200, 30, D_WRITE, 0);
	desc(t, 2, IND_GPA, 32, D_INDIRECT | D_NEXT, 3);
	desc(t, 3, DATA_GPA + 0x300, 40, D_WRITE, 0);
	avail_add(t, 1);
	assert_int_equal(pop(t), 0);
	chain_is(t, 1, 2, 30, 2, 70);
	seg_is(t, 0, DATA_GPA, 10);
	seg_is(t, 1, DATA_GPA + 0x100, 20);
	seg_is(t, 2, DATA_GPA + 0x200, 30);
	seg_is(t, 3, DATA_GPA + 0x300, 40);

	/* The same, but the ring descriptor after the table is readable:
	 * out after in across the table's end. */
	desc(t, 3, DATA_GPA + 0x300, 40, 0, 0);
	avail_add(t, 1);
	pop_fails(t, -EINVAL, "out after in");
}

static void indirect_table_of_65536_entries(void **state)
{
	struct vt *t = *state;

	/* 65536 entries (1 MiB) is the most a 16-bit next can chain. */
	ring(t, 256, F_INDIRECT);
	memset(gp(t, BIG_GPA), 0, MiB);
	ind(t, BIG_GPA, 0, DATA_GPA, 64, 0, 0);
	desc(t, 0, BIG_GPA, 65536 * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 1, 64, 0, 0);
	seg_is(t, 0, DATA_GPA, 64);
}

static void chain_spanning_two_regions(void **state)
{
	struct vt *t = *state;
	uint8_t in[300], out[300];

	ring(t, 256, F_INDIRECT);
	/* 100 bytes before gpa 2 MiB and 200 after: two segments, one per
	 * region, at addresses 64 KiB apart in this process. */
	fill(t, R1_GPA - 100, 300, 5);
	desc(t, 0, R1_GPA - 100, 300, D_NEXT, 1);
	desc(t, 1, R1_GPA - 50, 100, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 2, 300, 2, 100);
	seg_is(t, 0, R1_GPA - 100, 100);
	seg_is(t, 1, R1_GPA, 200);
	seg_is(t, 2, R1_GPA - 50, 50);
	seg_is(t, 3, R1_GPA, 50);
	for (unsigned i = 0; i < 300; i++)
		in[i] = (uint8_t)(5 + i * 7);
	assert_int_equal(usv_chain_read(&t->c, 0, out, 300, t->m), 0);
	assert_memory_equal(out, in, 300);
	memset(in, 0xa5, 100);
	assert_int_equal(usv_chain_write(&t->c, 0, in, 100, t->m), 0);
	assert_memory_equal(gp(t, R1_GPA - 50), in, 50);
	assert_memory_equal(gp(t, R1_GPA), in + 50, 50);
	/* Nothing leaked into the gap between the regions' mappings. */
	for (size_t i = R0_SIZE; i < R1_OFF; i++)
		if (t->buf[i])
			fail_msg("byte %zu of the gap between the regions was written", i);

	/* An indirect table that itself crosses the boundary. */
	ind(t, R1_GPA - 24, 0, DATA_GPA, 10, D_NEXT, 0);
	ind(t, R1_GPA - 24, 1, R1_GPA + 0x1000, 20, D_NEXT, 0);
	ind(t, R1_GPA - 24, 2, R1_GPA - 8, 16, D_WRITE, 0);
	desc(t, 2, R1_GPA - 24, 48, D_INDIRECT, 0);
	avail_add(t, 2);
	assert_int_equal(pop(t), 0);
	chain_is(t, 2, 2, 30, 2, 16);
	seg_is(t, 0, DATA_GPA, 10);
	seg_is(t, 1, R1_GPA + 0x1000, 20);
	seg_is(t, 2, R1_GPA - 8, 8);
	seg_is(t, 3, R1_GPA, 8);

	/* A buffer ending on the last byte of guest memory is fine. */
	desc(t, 3, MEM_END - 16, 16, D_WRITE, 0);
	avail_add(t, 3);
	assert_int_equal(pop(t), 0);
	chain_is(t, 3, 0, 0, 1, 16);
	seg_is(t, 0, MEM_END - 16, 16);
}

static void exactly_max_segs_segments(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	/* USV_VRING_MAX_SEGS (UIO_MAXIOV) entries of one segment each. */
	for (unsigned i = 0; i < USV_VRING_MAX_SEGS; i++)
		ind(t, IND_GPA, i, DATA_GPA + i * 8ULL, 8, D_WRITE | D_NEXT, 0);
	ind(t, IND_GPA, USV_VRING_MAX_SEGS - 1, DATA_GPA + 8ULL * (USV_VRING_MAX_SEGS - 1),
	    8, D_WRITE, 0);
	desc(t, 9, IND_GPA, USV_VRING_MAX_SEGS * 16, D_INDIRECT, 0);
	avail_add(t, 9);
	assert_int_equal(pop(t), 0);
	chain_is(t, 9, 0, 0, USV_VRING_MAX_SEGS, 8 * USV_VRING_MAX_SEGS);
	seg_is(t, USV_VRING_MAX_SEGS - 1, DATA_GPA + 8ULL * (USV_VRING_MAX_SEGS - 1), 8);
}

static void a_chain_of_num_descriptors(void **state)
{
	struct vt *t = *state;

	/* As many descriptors as the ring has is not a loop. */
	ring(t, 4, 0);
	desc(t, 2, DATA_GPA, 1, D_NEXT, 0);
	desc(t, 0, DATA_GPA + 1, 1, D_NEXT, 3);
	desc(t, 3, DATA_GPA + 2, 1, D_NEXT, 1);
	desc(t, 1, DATA_GPA + 3, 1, 0, 0);
	avail_add(t, 2);
	assert_int_equal(pop(t), 0);
	chain_is(t, 2, 4, 4, 0, 0);
	seg_is(t, 3, DATA_GPA + 3, 1);
}

/* A table of n zero-length entries at gpa, chained by NEXT but the last. */
static void zero_table(struct vt *t, uint64_t gpa, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ind(t, gpa, i, DATA_GPA, 0, i + 1 < n ? D_NEXT : 0, 0);
}

static void chains_count_their_descriptor_reads(void **state)
{
	struct vt *t = *state;

	/* Every descriptor read is counted, ring and indirect entries alike,
	 * so that the datapath can charge a walk that yields no bytes. */
	ring(t, 256, F_INDIRECT);
	desc(t, 0, DATA_GPA, 8, D_NEXT, 1);
	desc(t, 1, DATA_GPA + 8, 8, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.ndesc, 2);
	/* One ring descriptor and a table of three. */
	ind(t, IND_GPA, 0, DATA_GPA, 8, D_NEXT, 0);
	ind(t, IND_GPA, 1, DATA_GPA + 8, 0, D_NEXT, 0);
	ind(t, IND_GPA, 2, DATA_GPA + 16, 8, D_WRITE, 0);
	desc(t, 2, IND_GPA, 48, D_INDIRECT, 0);
	avail_add(t, 2);
	assert_int_equal(pop(t), 0);
	chain_is(t, 2, 1, 8, 1, 8);
	assert_int_equal(t->c.ndesc, 4);
	/* A table read in bulk still ends where the guest's NEXT ends it. */
	zero_table(t, IND_GPA, 40);
	ind(t, IND_GPA, 19, DATA_GPA, 4, 0, 0);
	desc(t, 3, IND_GPA, 40 * 16, D_INDIRECT, 0);
	avail_add(t, 3);
	assert_int_equal(pop(t), 0);
	chain_is(t, 3, 1, 4, 0, 0);
	assert_int_equal(t->c.ndesc, 21);
}

static void a_chain_of_1024_zero_length_entries_is_taken(void **state)
{
	struct vt *t = *state;

	/* A ring of 256 allows chains of 1024 (UIO_MAXIOV), indirect entries
	 * counted in place of the descriptor that points at them. */
	ring(t, 256, F_INDIRECT);
	zero_table(t, IND_GPA, 1024);
	desc(t, 0, IND_GPA, 1024 * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 0, 0, 0, 0);
	assert_int_equal(t->c.ndesc, 1025);
}

static void err_chain_longer_than_1024_in_zero_length_entries(void **state)
{
	struct vt *t = *state;

	/* Zero-length entries cost reads but no segment, so the segment bound
	 * never stops them: two tables of 600 from one chain are 1200 entries,
	 * more than max(num, 1024). The kernel takes such a chain; the spec
	 * forbids it (2.7.5.3.1). */
	ring(t, 256, F_INDIRECT);
	zero_table(t, IND2_GPA, 600);
	zero_table(t, IND_GPA, 600);
	desc(t, 0, IND2_GPA, 600 * 16, D_INDIRECT | D_NEXT, 1);
	desc(t, 1, IND_GPA, 600 * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "chain longer than 1024");
	/* Charged up to the entry that broke the bound: 2 + 1025 - 0. */
	assert_int_equal(t->c.ndesc, 1027);
}

static void a_ring_of_2048_bounds_chains_at_2048(void **state)
{
	struct vt *t = *state;

	/* Above 1024 the queue size is the bound. */
	ring(t, 2048, F_INDIRECT);
	zero_table(t, IND_GPA, 2048);
	desc(t, 0, IND_GPA, 2048 * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.ndesc, 2049);
	zero_table(t, IND_GPA, 2049);
	desc(t, 0, IND_GPA, 2049 * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "chain longer than 2048");
}

/* ---- broken rings: the kernel's answers ---------------------------------- */

static void err_avail_idx_moved_by_more_than_num(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	for (unsigned i = 0; i < 256; i++)
		desc(t, i, DATA_GPA, 1, 0, 0);
	/* num + 1 ahead: vhost_get_vq_desc() "Guest moved used index" -EFAULT
	 * (Linux >= 6.11 answers -EINVAL there). */
	avail_idx_set(t, 257);
	pop_fails(t, -EFAULT, "avail index");
	assert_false(usv_vringh_has_avail(&t->vr));
	/* Behind last_avail_idx is the same as far ahead. */
	base_set(t, 100);
	avail_idx_set(t, 99);
	pop_fails(t, -EFAULT, "avail index");
	/* Across the 16-bit wrap: 0xfff0 + 257. */
	base_set(t, 0xfff0);
	avail_idx_set(t, (uint16_t)(0xfff0 + 257));
	pop_fails(t, -EFAULT, "avail index");
	/* Exactly num ahead is allowed: a full ring. */
	avail_idx_set(t, (uint16_t)(0xfff0 + 256));
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->vr.last_avail_idx, 0xfff1);
	assert_int_equal(t->vr.avail_idx, (uint16_t)(0xfff0 + 256));
}

/* Heads come in the guest's order whether read one by one (mapped) or in
 * bulk (not mapped here): across the ring's end, after chains are given
 * back, and for entries the guest adds after a bulk read. */
static void heads_in_order_across_wrap_and_unpop(void **state)
{
	struct vt *t = *state;
	uint16_t want = 0;

	ring(t, 8, 0);
	for (unsigned i = 0; i < 8; i++)
		desc(t, i, DATA_GPA + 64ULL * i, 64, 0, 0);
	base_set(t, 0xfffc); /* the avail index wraps past 2^16 too */
	for (unsigned i = 0; i < 6; i++)
		avail_add(t, (uint16_t)((i * 3) % 8));
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(pop(t), 0);
		assert_int_equal(t->c.head, (want * 3) % 8);
		want++;
	}
	usv_vringh_unpop(&t->vr, 2);
	want -= 2;
	avail_add(t, 7);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(pop(t), 0);
		assert_int_equal(t->c.head, (want * 3) % 8);
		want++;
	}
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 7);
	assert_int_equal(pop(t), -EAGAIN);
	assert_int_equal(t->vr.last_avail_idx, (uint16_t)(0xfffc + 7));
}

static void err_head_at_or_above_num(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	desc(t, 255, DATA_GPA, 1, 0, 0);
	avail_add(t, 256);
	pop_fails(t, -EINVAL, "index 256");
	/* The driver fixes the entry: the same slot is read again. */
	memcpy(t->drv->avail + 4, &(uint16_t){ 255 }, 2);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 255);
	avail_add(t, 0xffff);
	pop_fails(t, -EINVAL, "available");
	assert_int_equal(t->vr.last_avail_idx, 1);
}

static void err_next_at_or_above_num(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	desc(t, 0, DATA_GPA, 1, D_NEXT, 256);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "desc index");
	desc(t, 0, DATA_GPA, 1, D_NEXT, 1);
	desc(t, 1, DATA_GPA, 1, D_NEXT, 0xffff);
	pop_fails(t, -EINVAL, "desc index");
}

static void err_descriptor_loop(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	desc(t, 0, DATA_GPA, 1, D_NEXT, 1);
	desc(t, 1, DATA_GPA, 1, D_NEXT, 0);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "loop detected");
	/* A descriptor that points at itself. */
	desc(t, 0, DATA_GPA, 1, D_NEXT, 0);
	pop_fails(t, -EINVAL, "loop detected");
	/* A loop that is not back to the head. */
	ring(t, 4, 0);
	desc(t, 3, DATA_GPA, 1, D_NEXT, 1);
	desc(t, 1, DATA_GPA, 1, D_NEXT, 2);
	desc(t, 2, DATA_GPA, 1, D_NEXT, 1);
	avail_add(t, 3);
	pop_fails(t, -EINVAL, "loop detected");
}

static void err_out_after_in(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	desc(t, 0, DATA_GPA, 8, D_WRITE | D_NEXT, 1);
	desc(t, 1, DATA_GPA + 8, 8, 0, 0);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "out after in");
	/* Inside an indirect table. */
	ind(t, IND_GPA, 0, DATA_GPA, 8, D_NEXT, 0);
	ind(t, IND_GPA, 1, DATA_GPA + 8, 8, D_WRITE | D_NEXT, 0);
	ind(t, IND_GPA, 2, DATA_GPA + 16, 8, 0, 0);
	desc(t, 0, IND_GPA, 48, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "out after in");
}

static void err_nested_indirect(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	ind(t, IND2_GPA, 0, DATA_GPA, 8, 0, 0);
	ind(t, IND_GPA, 0, DATA_GPA, 8, D_NEXT, 0);
	ind(t, IND_GPA, 1, IND2_GPA, 16, D_INDIRECT, 0);
	desc(t, 0, IND_GPA, 32, D_INDIRECT, 0);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "nested indirect");
}

static void err_indirect_len_not_a_multiple_of_16(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	ind(t, IND_GPA, 0, DATA_GPA, 8, 0, 0);
	desc(t, 0, IND_GPA, 24, D_INDIRECT, 0);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "length");
	desc(t, 0, IND_GPA, 15, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "length");
	/* len 0: a multiple of 16 with no entry, the loop check fires. */
	desc(t, 0, IND_GPA, 0, D_INDIRECT, 0);
	pop_fails(t, -EINVAL, "loop detected");
}

static void err_indirect_table_too_big(void **state)
{
	struct vt *t = *state;

	/* 65537 entries, all inside guest memory (the kernel translates the
	 * table before counting it): "Indirect buffer length too big", -E2BIG.
	 * (A table outside memory is the translation's -EFAULT there: see
	 * kernel_huge_indirect_table_outside_guest_memory.) */
	ring(t, 256, F_INDIRECT);
	ind(t, BIG_GPA, 0, DATA_GPA, 64, 0, 0);
	desc(t, 0, BIG_GPA, 65537 * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	pop_fails(t, -E2BIG, "too big");
	/* 2 MiB of table from 1 MiB: still inside, across the regions. */
	desc(t, 0, BIG_GPA, 2 * MiB, D_INDIRECT, 0);
	pop_fails(t, -E2BIG, "too big");
}

static void err_indirect_table_without_end(void **state)
{
	struct vt *t = *state;

	/* The last entry says NEXT: the kernel calls it a loop. */
	ring(t, 256, F_INDIRECT);
	ind(t, IND_GPA, 0, DATA_GPA, 8, D_NEXT, 1);
	ind(t, IND_GPA, 1, DATA_GPA + 8, 8, D_NEXT, 0);
	desc(t, 0, IND_GPA, 32, D_INDIRECT, 0);
	avail_add(t, 0);
	pop_fails(t, -EINVAL, "loop detected");
}

static void err_buffer_outside_guest_memory(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_INDIRECT);
	avail_add(t, 0);
	/* Wholly outside. */
	desc(t, 0, MEM_END, 1, 0, 0);
	pop_fails(t, -EFAULT, "translation");
	desc(t, 0, 0x7f0000000000ULL, 64, D_WRITE, 0);
	pop_fails(t, -EFAULT, "translation");
	/* The last byte outside. */
	desc(t, 0, MEM_END - 16, 17, 0, 0);
	pop_fails(t, -EFAULT, "translation");
	/* A range that wraps the 64-bit space. */
	desc(t, 0, UINT64_MAX - 7, 16, 0, 0);
	pop_fails(t, -EFAULT, "translation");
	/* The second descriptor of a chain. */
	desc(t, 0, DATA_GPA, 8, D_NEXT, 1);
	desc(t, 1, MEM_END + 4096, 8, D_WRITE, 0);
	pop_fails(t, -EFAULT, "translation");
	/* An entry of an indirect table. */
	ind(t, IND_GPA, 0, DATA_GPA, 8, D_NEXT, 0);
	ind(t, IND_GPA, 1, MEM_END, 8, D_WRITE, 0);
	desc(t, 0, IND_GPA, 32, D_INDIRECT, 0);
	pop_fails(t, -EFAULT, "translation");
}

static void err_more_than_max_segs_segments(void **state)
{
	struct vt *t = *state;

	/* USV_VRING_MAX_SEGS + 1 entries in a table: -ENOBUFS. */
	ring(t, 256, F_INDIRECT);
	for (unsigned i = 0; i <= USV_VRING_MAX_SEGS; i++)
		ind(t, IND_GPA, i, DATA_GPA + i * 8ULL, 8, D_NEXT, 0);
	ind(t, IND_GPA, USV_VRING_MAX_SEGS, DATA_GPA, 8, 0, 0);
	desc(t, 0, IND_GPA, (USV_VRING_MAX_SEGS + 1) * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	pop_fails(t, -ENOBUFS, "translation");

	/* The same in the ring itself (num 2048). */
	ring(t, 2048, 0);
	for (unsigned i = 0; i <= USV_VRING_MAX_SEGS; i++)
		desc(t, i, DATA_GPA + i * 8ULL, 8, D_NEXT, (uint16_t)(i + 1));
	desc(t, USV_VRING_MAX_SEGS, DATA_GPA, 8, 0, 0);
	avail_add(t, 0);
	pop_fails(t, -ENOBUFS, "translation");
	/* One fewer passes. */
	desc(t, USV_VRING_MAX_SEGS - 1, DATA_GPA, 8, 0, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.nout, USV_VRING_MAX_SEGS);

	/* Segments count after the split at the region boundary: 512
	 * descriptors crossing it are 1024 segments, 513 are too many. */
	ring(t, 2048, 0);
	for (unsigned i = 0; i < 513; i++)
		desc(t, i, R1_GPA - 4, 8, D_NEXT, (uint16_t)(i + 1));
	desc(t, 511, R1_GPA - 4, 8, 0, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.nout, 1024);
	seg_is(t, 1022, R1_GPA - 4, 4);
	seg_is(t, 1023, R1_GPA, 4);
	desc(t, 511, R1_GPA - 4, 8, D_NEXT, 512);
	desc(t, 512, R1_GPA - 4, 8, 0, 0);
	avail_add(t, 0);
	pop_fails(t, -ENOBUFS, "translation");
}

/* ---- unpop, push --------------------------------------------------------- */

static void unpop_gives_chains_back(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	for (unsigned i = 0; i < 4; i++) {
		desc(t, 10 + i, DATA_GPA + i * 16ULL, 16, D_WRITE, 0);
		avail_add(t, (uint16_t)(10 + i));
	}
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(pop(t), 0);
		assert_int_equal(t->c.head, 10 + i);
	}
	assert_int_equal(t->vr.last_avail_idx, 3);
	usv_vringh_unpop(&t->vr, 2);
	assert_int_equal(t->vr.last_avail_idx, 1);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 11);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 12);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 13);
	assert_int_equal(pop(t), -EAGAIN);
	usv_vringh_unpop(&t->vr, 0);
	assert_int_equal(t->vr.last_avail_idx, 4);

	/* Back across the 16-bit wrap. */
	ring(t, 256, 0);
	base_set(t, 0xffff);
	desc(t, 1, DATA_GPA, 16, 0, 0);
	desc(t, 2, DATA_GPA, 16, 0, 0);
	avail_add(t, 1);
	avail_add(t, 2);
	assert_int_equal(pop(t), 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 2);
	assert_int_equal(t->vr.last_avail_idx, 1);
	usv_vringh_unpop(&t->vr, 2);
	assert_int_equal(t->vr.last_avail_idx, 0xffff);
	assert_int_equal(pop(t), 0);
	assert_int_equal(t->c.head, 1);
}

static void push_one(void **state)
{
	struct vt *t = *state;
	uint32_t head = 17, len = 1234, id, l;

	ring(t, 256, 0);
	assert_int_equal(usv_vringh_push(&t->vr, &head, &len, 1), 0);
	assert_int_equal(used_idx(t), 1);
	assert_int_equal(t->vr.last_used_idx, 1);
	used_elem(t, 0, &id, &l);
	assert_int_equal(id, 17);
	assert_int_equal(l, 1234);
	/* Nothing else of the used ring was written. */
	used_elem(t, 1, &id, &l);
	assert_int_equal(id, 0);
	assert_int_equal(l, 0);
	assert_int_equal(used_flags(t), 0);
	/* Zero entries publish nothing new. */
	assert_int_equal(usv_vringh_push(&t->vr, &head, &len, 0), 0);
	assert_int_equal(used_idx(t), 1);
}

static void push_wraps_at_the_ring_end(void **state)
{
	struct vt *t = *state;
	uint32_t heads[5] = { 1, 2, 3, 4, 5 }, lens[5] = { 10, 20, 30, 40, 50 };
	uint32_t id, l;

	ring(t, 256, 0);
	t->vr.last_used_idx = 254;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 5), 0);
	assert_int_equal(used_idx(t), 259);
	assert_int_equal(t->vr.last_used_idx, 259);
	for (unsigned i = 0; i < 5; i++) {
		used_elem(t, (254 + i) % 256, &id, &l);
		assert_int_equal(id, heads[i]);
		assert_int_equal(l, lens[i]);
	}
	used_elem(t, 3, &id, &l);
	assert_int_equal(id, 0);
	/* The 16-bit index wraps too. */
	t->vr.last_used_idx = 0xfffe;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 4), 0);
	assert_int_equal(used_idx(t), 2);
	used_elem(t, 0xfffe % 256, &id, &l);
	assert_int_equal(id, 1);
	used_elem(t, 1, &id, &l);
	assert_int_equal(id, 4);
	assert_int_equal(l, 40);
}

static void push_batches_larger_than_64(void **state)
{
	struct vt *t = *state;
	uint32_t heads[256], lens[256], id, l;

	ring(t, 256, 0);
	for (unsigned i = 0; i < 256; i++) {
		heads[i] = 255 - i;
		lens[i] = 1000 + i;
	}
	/* 200 entries from slot 100: 156 to the end, 44 from the start. */
	t->vr.last_used_idx = 100;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 200), 0);
	assert_int_equal(used_idx(t), 300);
	for (unsigned i = 0; i < 200; i++) {
		used_elem(t, (100 + i) % 256, &id, &l);
		assert_int_equal(id, heads[i]);
		assert_int_equal(l, lens[i]);
	}
	used_elem(t, 44, &id, &l);
	assert_int_equal(id, 0);
	/* A whole ring at once. */
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 256), 0);
	assert_int_equal(used_idx(t), 556);
	for (unsigned i = 0; i < 256; i++) {
		used_elem(t, (300 + i) % 256, &id, &l);
		assert_int_equal(id, heads[i]);
		assert_int_equal(l, lens[i]);
	}
}

static void push_logs_the_used_ring(void **state)
{
	struct vt *t = *state;
	/* The used ring's guest address as VHOST_VRING_F_LOG gives it; chosen
	 * so that a page boundary falls after slot 1: idx and slots 0-1 are
	 * logged in page 0x1f, slots from 2 on in page 0x20. (Logging needs no
	 * memory there: it only marks pages.) */
	const uint64_t log_addr = 0x20000 - 4 - 16;
	uint32_t heads[3] = { 1, 2, 3 }, lens[3] = { 0, 0, 0 };
	uint8_t want[sizeof(t->bitmap)];

	ring(t, 256, F_LOG_ALL);
	t->vr.log_used = true;
	t->vr.log_addr = log_addr;
	t->vr.log.base = (uintptr_t)t->bitmap;

	/* Slots 10, 11 and the index: pages 0x20 (entries) and 0x1f (idx). */
	memset(t->bitmap, 0, sizeof(t->bitmap));
	t->vr.last_used_idx = 10;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 2), 0);
	memset(want, 0, sizeof(want));
	want_pages(want, log_addr + 4 + 8 * 10, 16);
	want_pages(want, log_addr + 2, 2);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	assert_int_equal(want[3], 0x80); /* page 0x1f (test self-check) */
	assert_int_equal(want[4], 0x01); /* page 0x20 */

	/* Slots 255 and 0 across the ring's end, with the index. */
	memset(t->bitmap, 0, sizeof(t->bitmap));
	t->vr.last_used_idx = 255;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 2), 0);
	memset(want, 0, sizeof(want));
	want_pages(want, log_addr + 4 + 8 * 255, 8);
	want_pages(want, log_addr + 4, 8);
	want_pages(want, log_addr + 2, 2);
	assert_memory_equal(t->bitmap, want, sizeof(want));

	/* Only slot 0 (page 0x1f): page 0x20 stays clear. */
	memset(t->bitmap, 0, sizeof(t->bitmap));
	t->vr.last_used_idx = 256;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 1), 0);
	memset(want, 0, sizeof(want));
	want_pages(want, log_addr, 12);
	assert_memory_equal(t->bitmap, want, sizeof(want));

	/* usv_vringh_write_used_flags() logs the flags. */
	memset(t->bitmap, 0, sizeof(t->bitmap));
	t->vr.log_addr = 0x30000 - 2; /* flags in page 0x2f */
	assert_int_equal(usv_vringh_write_used_flags(&t->vr), 0);
	memset(want, 0, sizeof(want));
	want_pages(want, 0x30000 - 2, 2);
	assert_memory_equal(t->bitmap, want, sizeof(want));

	/* Without VHOST_VRING_F_LOG nothing is logged. */
	memset(t->bitmap, 0, sizeof(t->bitmap));
	t->vr.log_used = false;
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 3), 0);
	assert_int_equal(usv_vringh_write_used_flags(&t->vr), 0);
	memset(want, 0, sizeof(want));
	assert_memory_equal(t->bitmap, want, sizeof(want));
}

/* ---- notifications ------------------------------------------------------- */

static void push_n(struct vt *t, unsigned n)
{
	uint32_t heads[64] = { 0 }, lens[64] = { 0 };

	assert_true(n <= 64);
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, n), 0);
}

static void need_signal_without_event_idx(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	push_n(t, 1);
	assert_true(usv_vringh_need_signal(&t->vr));
	avail_flags_set(t, USV_VRING_AVAIL_F_NO_INTERRUPT);
	push_n(t, 1);
	assert_false(usv_vringh_need_signal(&t->vr));
	/* used_event means nothing without EVENT_IDX. */
	used_event_set(t, 1);
	assert_false(usv_vringh_need_signal(&t->vr));
	avail_flags_set(t, 0);
	assert_true(usv_vringh_need_signal(&t->vr));
}

static void need_signal_notify_on_empty(void **state)
{
	struct vt *t = *state;

	/* NOTIFY_ON_EMPTY: signal when we took every buffer, whatever the
	 * driver's suppression says. */
	ring(t, 256, F_NOTIFY_ON_EMPTY);
	avail_flags_set(t, USV_VRING_AVAIL_F_NO_INTERRUPT);
	desc(t, 0, DATA_GPA, 8, 0, 0);
	avail_add(t, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	push_n(t, 1);
	assert_false(usv_vringh_need_signal(&t->vr)); /* one still available */
	assert_int_equal(pop(t), 0);
	push_n(t, 1);
	assert_true(usv_vringh_need_signal(&t->vr)); /* empty */
	/* With EVENT_IDX too: empty overrides used_event. */
	ring(t, 256, F_NOTIFY_ON_EMPTY | F_EVENT_IDX);
	push_n(t, 1);
	assert_true(usv_vringh_need_signal(&t->vr));
	used_event_set(t, 100);
	push_n(t, 1);
	assert_true(usv_vringh_need_signal(&t->vr));
	/* Without NOTIFY_ON_EMPTY the same state is not signalled. */
	ring(t, 256, F_EVENT_IDX);
	push_n(t, 1);
	assert_true(usv_vringh_need_signal(&t->vr)); /* first: nothing signalled yet */
	used_event_set(t, 100);
	push_n(t, 1);
	assert_false(usv_vringh_need_signal(&t->vr));
}

static void need_signal_with_event_idx(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_EVENT_IDX);
	/* The flag is ignored with EVENT_IDX. */
	avail_flags_set(t, USV_VRING_AVAIL_F_NO_INTERRUPT);
	used_event_set(t, 0xffff);
	push_n(t, 1);
	/* Nothing signalled yet (signalled_used not valid): signal. */
	assert_true(usv_vringh_need_signal(&t->vr));
	assert_int_equal(t->vr.signalled_used, 1);
	assert_true(t->vr.signalled_used_valid);
	/* old 1, new 2: used_event 1 is crossed, 2 is not. */
	push_n(t, 1);
	used_event_set(t, 2);
	assert_false(usv_vringh_need_signal(&t->vr));
	assert_int_equal(t->vr.signalled_used, 2);
	push_n(t, 1); /* old 2, new 3 */
	used_event_set(t, 2);
	assert_true(usv_vringh_need_signal(&t->vr));
	/* old 3, new 6: events 3, 4 and 5 are crossed, 6 and 2 are not. */
	push_n(t, 3);
	used_event_set(t, 6);
	assert_false(usv_vringh_need_signal(&t->vr));
	t->vr.signalled_used = 3;
	used_event_set(t, 5);
	assert_true(usv_vringh_need_signal(&t->vr));
	t->vr.signalled_used = 3;
	used_event_set(t, 3);
	assert_true(usv_vringh_need_signal(&t->vr));
	t->vr.signalled_used = 3;
	used_event_set(t, 2);
	assert_false(usv_vringh_need_signal(&t->vr));
	/* No new entries since the last signal: no signal. */
	used_event_set(t, 5);
	assert_false(usv_vringh_need_signal(&t->vr));
}

static void need_signal_event_idx_wraps(void **state)
{
	struct vt *t = *state;
	static const struct {
		uint16_t event;
		bool signal;
	} cases[] = {
		{ 0xfffc, true },  /* = old: crossed */
		{ 0xfffe, true },
		{ 0xffff, true },
		{ 0, true },
		{ 1, true },       /* new - 1 */
		{ 2, false },      /* = new */
		{ 3, false },
		{ 0xfffb, false }, /* before old */
		{ 0x8000, false },
	};

	ring(t, 256, F_EVENT_IDX);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* old 0xfffc, new 2 (6 entries across the wrap) */
		t->vr.last_used_idx = 0xfffc;
		t->vr.signalled_used = 0xfffc;
		t->vr.signalled_used_valid = true;
		push_n(t, 6);
		assert_int_equal(t->vr.last_used_idx, 2);
		used_event_set(t, cases[i].event);
		if (usv_vringh_need_signal(&t->vr) != cases[i].signal)
			fail_msg("used_event 0x%x, old 0xfffc, new 2: expected %s",
				 cases[i].event, cases[i].signal ? "a signal" : "none");
	}
}

static void need_signal_forgets_after_a_full_wrap(void **state)
{
	struct vt *t = *state;

	/* signalled_used is just ahead of the used index: the used index went
	 * 2^16 entries without a signal and passes it again. */
	ring(t, 256, F_EVENT_IDX);
	t->vr.last_used_idx = 5;
	t->vr.signalled_used = 10;
	t->vr.signalled_used_valid = true;
	used_event_set(t, 0x8000); /* would say "no" */
	push_n(t, 10);             /* 5 -> 15 passes 10 */
	assert_false(t->vr.signalled_used_valid);
	assert_true(usv_vringh_need_signal(&t->vr));
	/* Not passing it keeps it. */
	t->vr.last_used_idx = 5;
	t->vr.signalled_used = 3;
	t->vr.signalled_used_valid = true;
	push_n(t, 10);
	assert_true(t->vr.signalled_used_valid);
	assert_false(usv_vringh_need_signal(&t->vr));
}

static void notify_control_without_event_idx(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	st16(t->drv->used, 0);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(used_flags(t), USV_VRING_USED_F_NO_NOTIFY);
	assert_true(t->vr.used_flags & USV_VRING_USED_F_NO_NOTIFY);
	/* Already disabled: nothing written again. */
	st16(t->drv->used, 0x5a5a);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(used_flags(t), 0x5a5a);
	st16(t->drv->used, USV_VRING_USED_F_NO_NOTIFY);
	/* Enable with nothing new: flags cleared, false. */
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(used_flags(t), 0);
	assert_false(t->vr.used_flags & USV_VRING_USED_F_NO_NOTIFY);
	assert_int_equal(avail_event(t), 0); /* no EVENT_IDX: never written */
	/* Already enabled: false, nothing written. */
	st16(t->drv->used, 0x5a5a);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(used_flags(t), 0x5a5a);
	st16(t->drv->used, 0);
	/* A buffer slipped in while notifications were off. */
	usv_vringh_disable_notify(&t->vr);
	desc(t, 0, DATA_GPA, 8, 0, 0);
	avail_add(t, 0);
	assert_true(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(used_flags(t), 0);
	/* ... and is taken. */
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(used_flags(t), 0);
}

static void notify_control_with_event_idx(void **state)
{
	struct vt *t = *state;

	ring(t, 256, F_EVENT_IDX);
	desc(t, 0, DATA_GPA, 8, 0, 0);
	usv_vringh_disable_notify(&t->vr);
	/* With EVENT_IDX the flags are never written. */
	assert_int_equal(used_flags(t), 0);
	assert_true(t->vr.used_flags & USV_VRING_USED_F_NO_NOTIFY);
	/* Enable publishes avail_event = the avail index we know. */
	for (unsigned i = 0; i < 3; i++)
		avail_add(t, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(avail_event(t), 3);
	assert_int_equal(used_flags(t), 0);
	assert_false(t->vr.used_flags & USV_VRING_USED_F_NO_NOTIFY);
	/* Disable does not touch avail_event. */
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(avail_event(t), 3);
	assert_int_equal(used_flags(t), 0);
	/* Buffers slipped in: true, avail_event is still the old index (the
	 * caller goes on taking buffers and enables again later). */
	avail_add(t, 0);
	assert_true(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(avail_event(t), 3);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(avail_event(t), 4);
	/* Buffers we saw but have not taken (or gave back) did not slip in:
	 * Linux 6.1's vhost_enable_notify() compares the avail index with the
	 * one it cached, not with last_avail_idx, and RX relies on it to sleep
	 * with a frame held until the driver adds buffers. avail_event is the
	 * cached index. */
	avail_add(t, 0);
	avail_add(t, 0);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(pop(t), 0);
	usv_vringh_unpop(&t->vr, 1);
	assert_int_equal(t->vr.last_avail_idx, 4);
	assert_int_equal(t->vr.avail_idx, 6);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(avail_event(t), 6);
	/* Across the wrap. */
	ring(t, 256, F_EVENT_IDX);
	desc(t, 0, DATA_GPA, 8, 0, 0);
	base_set(t, 0xfffe);
	avail_add(t, 0);
	usv_vringh_disable_notify(&t->vr);
	assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(avail_event(t), 0xffff);
	usv_vringh_disable_notify(&t->vr);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	assert_false(usv_vringh_enable_notify(&t->vr));
	assert_int_equal(avail_event(t), 0);
}

static void write_used_flags_publishes_them(void **state)
{
	struct vt *t = *state;

	ring(t, 256, 0);
	st16(t->drv->used, 0xffff);
	t->vr.used_flags = 0;
	assert_int_equal(usv_vringh_write_used_flags(&t->vr), 0);
	assert_int_equal(used_flags(t), 0);
	t->vr.used_flags = USV_VRING_USED_F_NO_NOTIFY;
	assert_int_equal(usv_vringh_write_used_flags(&t->vr), 0);
	assert_int_equal(used_flags(t), 1);
}

/* ---- the dirty log ------------------------------------------------------- */

static void log_setup(struct vt *t, uint64_t features)
{
	ring(t, 256, features);
	memset(t->bitmap, 0, sizeof(t->bitmap));
	t->vr.log.base = (uintptr_t)t->bitmap;
}

static void log_write_sets_the_page_bits(void **state)
{
	struct vt *t = *state;
	uint8_t want[sizeof(t->bitmap)] = { 0 };

	log_setup(t, F_LOG_ALL);
	/* One byte of page 3: bit 3 of byte 0. */
	assert_int_equal(usv_vringh_log_write(&t->vr, 0x3000, 1), 0);
	want[0] = 0x08;
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* Two bytes across pages 7 and 8: bit 7 of byte 0, bit 0 of byte 1. */
	assert_int_equal(usv_vringh_log_write(&t->vr, 0x7fff, 2), 0);
	want[0] |= 0x80;
	want[1] |= 0x01;
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* Exactly one page, page-aligned: page 16 only. */
	assert_int_equal(usv_vringh_log_write(&t->vr, 0x10000, 0x1000), 0);
	want[2] |= 0x01;
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* Zero bytes: nothing. */
	assert_int_equal(usv_vringh_log_write(&t->vr, 0x20000, 0), 0);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* Bits already set (by us or anyone) stay set. */
	t->bitmap[100] = 0xa5;
	want[100] = 0xa5;
	assert_int_equal(usv_vringh_log_write(&t->vr, 100 * 8 * 4096ULL + 4096, 1), 0);
	want[100] |= 0x02;
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* No log base: nothing is written anywhere. */
	t->vr.log.base = 0;
	assert_int_equal(usv_vringh_log_write(&t->vr, 0x3000, 4096), 0);
	assert_memory_equal(t->bitmap, want, sizeof(want));
}

static void log_write_long_ranges(void **state)
{
	struct vt *t = *state;
	uint8_t want[sizeof(t->bitmap)];
	static const struct {
		uint64_t gpa, len;
	} cases[] = {
		{ 0x5000, 0x200000 },            /* 512 pages from page 5 */
		{ 0x123, 8 * 4096 * 64 },        /* 64 bitmap bytes, unaligned */
		{ 0x1000 * 7, 0x1000 * 8 * 130 + 1 },
		{ 0x1000 * 8 * 200 - 1, 2 },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_setup(t, F_LOG_ALL);
		memset(want, 0, sizeof(want));
		want_pages(want, cases[i].gpa, cases[i].len);
		assert_int_equal(usv_vringh_log_write(&t->vr, cases[i].gpa, cases[i].len), 0);
		if (memcmp(t->bitmap, want, sizeof(want))) {
			for (unsigned b = 0; b < sizeof(want); b++)
				if (t->bitmap[b] != want[b])
					fail_msg("gpa 0x%" PRIx64 " len 0x%" PRIx64 ": byte %u is "
						 "0x%02x, expected 0x%02x", cases[i].gpa,
						 cases[i].len, b, t->bitmap[b], want[b]);
		}
	}
	/* A range wrapping the 64-bit space is refused. */
	log_setup(t, F_LOG_ALL);
	assert_int_equal(usv_vringh_log_write(&t->vr, UINT64_MAX - 10, 20), -EFAULT);
}

static void log_write_marks_the_log_for_its_eventfd(void **state)
{
	struct vt *t = *state;

	/* The walker marks the log written; the datapath signals the log
	 * eventfd from that, without blocking (signal.c). */
	t->noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t->noaccess != MAP_FAILED);
	log_setup(t, F_LOG_ALL);
	assert_false(t->vr.log.written);
	assert_int_equal(usv_vringh_log_write(&t->vr, 0x3000, 1), 0);
	assert_true(t->vr.log.written);
	/* A bitmap the owner does not have (an unmapped page): -EFAULT, and
	 * a failed log write asks for no signal. (A PROT_NONE page would be
	 * written in the owner's own copy: docs/conformance.md.) */
	t->vr.log.written = false;
	assert_int_equal(munmap(t->noaccess, 4096), 0);
	t->vr.log.base = (uintptr_t)t->noaccess;
	t->noaccess = NULL;
	assert_int_equal(usv_vringh_log_write(&t->vr, 0x3000, 1), -EFAULT);
	assert_false(t->vr.log.written);
}

static void log_chain_logs_the_written_part(void **state)
{
	struct vt *t = *state;
	uint8_t want[sizeof(t->bitmap)] = { 0 };

	/* A chain: out at page 0x40, in at pages 0x50-0x51 (across) and 0x60. */
	log_setup(t, F_LOG_ALL);
	desc(t, 0, 0x40000, 100, D_NEXT, 1);
	desc(t, 1, 0x51000 - 10, 20, D_WRITE | D_NEXT, 2);
	desc(t, 2, 0x60000, 4096, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	/* 15 bytes written: pages 0x50 and 0x51 only. */
	assert_int_equal(usv_vringh_log_chain(&t->vr, &t->c, 15), 0);
	want_pages(want, 0x51000 - 10, 15);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* 21 bytes: the third descriptor's page too. */
	assert_int_equal(usv_vringh_log_chain(&t->vr, &t->c, 21), 0);
	want_pages(want, 0x60000, 1);
	assert_memory_equal(t->bitmap, want, sizeof(want));
	/* Without LOG_ALL nothing is logged. */
	log_setup(t, 0);
	desc(t, 0, 0x60000, 4096, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	assert_int_equal(usv_vringh_log_chain(&t->vr, &t->c, 4096), 0);
	memset(want, 0, sizeof(want));
	assert_memory_equal(t->bitmap, want, sizeof(want));
}

/* ---- where usvhost and the kernel order their checks differently ---------- */

/* The kernel's answer is want; usvhost is known to give known (reported as
 * a bug). Anything else fails; the known answer skips unless strict. */
static void kernel_answer(struct vt *t, int got, int want, int known, const char *what)
{
	const char *strict = getenv("USV_TEST_STRICT");

	if (got == want)
		return;
	if (got == known && !(strict && strcmp(strict, "0") != 0)) {
		print_message("known divergence from the kernel: %s: usvhost %d (%s), "
			      "kernel %d (%s); vr->err \"%s\"\n", what, got,
			      got < 0 ? strerror(-got) : "ok", want, strerror(-want),
			      t->vr.err);
		skip();
	}
	fail_msg("%s: %d (%s), expected the kernel's %d (%s); vr->err \"%s\"", what,
		 got, got < 0 ? strerror(-got) : "ok", want, strerror(-want), t->vr.err);
}

static void kernel_indirect_table_outside_guest_memory(void **state)
{
	struct vt *t = *state;

	/* get_indirect() translates the whole table first: a table outside
	 * guest memory is the translation's -EFAULT. */
	ring(t, 256, F_INDIRECT);
	desc(t, 0, MEM_END + 0x1000, 32, D_INDIRECT, 0);
	avail_add(t, 0);
	kernel_answer(t, pop(t), -EFAULT, -EINVAL, "indirect table wholly outside memory");
}

static void kernel_indirect_table_partly_outside_guest_memory(void **state)
{
	struct vt *t = *state;

	/* Two entries, the second past the end of memory; the chain ends at
	 * the first. The kernel refuses the table as a whole. */
	ring(t, 256, F_INDIRECT);
	ind(t, MEM_END - 16, 0, DATA_GPA, 8, 0, 0);
	desc(t, 0, MEM_END - 16, 32, D_INDIRECT, 0);
	avail_add(t, 0);
	kernel_answer(t, pop(t), -EFAULT, 0, "indirect table running past the end of memory");
}

static void kernel_huge_indirect_table_outside_guest_memory(void **state)
{
	struct vt *t = *state;

	/* Translation comes before the size check: -EFAULT, not -E2BIG. */
	ring(t, 256, F_INDIRECT);
	desc(t, 0, MEM_END, 65537 * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	kernel_answer(t, pop(t), -EFAULT, -E2BIG, "oversized indirect table outside memory");
}

static void kernel_out_after_in_with_a_bad_address(void **state)
{
	struct vt *t = *state;

	/* vhost_get_vq_desc() translates a descriptor before it checks the
	 * out-after-in order. */
	ring(t, 256, 0);
	desc(t, 0, DATA_GPA, 8, D_WRITE | D_NEXT, 1);
	desc(t, 1, MEM_END, 8, 0, 0);
	avail_add(t, 0);
	kernel_answer(t, pop(t), -EFAULT, -EINVAL, "readable descriptor outside memory after a writable one");
}

static void kernel_full_iovec_before_a_bad_address(void **state)
{
	struct vt *t = *state;

	/* translate_desc() checks the room left in the iovec before it looks
	 * the address up: a full chain reports -ENOBUFS. */
	ring(t, 256, F_INDIRECT);
	for (unsigned i = 0; i < USV_VRING_MAX_SEGS; i++)
		ind(t, IND_GPA, i, DATA_GPA + i * 8ULL, 8, D_NEXT, 0);
	ind(t, IND_GPA, USV_VRING_MAX_SEGS, MEM_END, 8, 0, 0);
	desc(t, 0, IND_GPA, (USV_VRING_MAX_SEGS + 1) * 16, D_INDIRECT, 0);
	avail_add(t, 0);
	kernel_answer(t, pop(t), -ENOBUFS, -EFAULT, "segment 1025 outside memory");
}

static void kernel_chain_longer_than_4_gib(void **state)
{
	struct vt *t = *state;
	struct usv_vhost_memory_region r = {
		.guest_phys_addr = 0, .memory_size = 8 * 1024 * MiB,
		.userspace_addr = 0x100000000000ULL,
	};
	struct usv_guestmem *big;
	int got;

	/* Two 3 GiB descriptors: the kernel puts no limit on a chain's total
	 * (iovec lengths are size_t) and takes it. Buffers are translated
	 * against an 8 GiB table that is never touched (translation only
	 * computes addresses); the rings stay where ring() put them. */
	ring(t, 256, 0);
	desc(t, 0, 0, 3u << 30, D_NEXT, 1);
	desc(t, 1, 0, 3u << 30, 0, 0);
	avail_add(t, 0);
	assert_int_equal(usv_guestmem_new(&r, 1, &big), 0);
	big->memfd = t->m->memfd; /* unmapped rings: reached in this process */
	t->vr.mem = big;      /* mapped rings: vr's local pointers stay */
	got = pop(t);
	t->vr.mem = t->m;
	usv_guestmem_free(big);
	kernel_answer(t, got, 0, -EINVAL, "chain of 6 GiB");
}

/* Rings not mapped here read the descriptor table whole once for the chains
 * made available (mapped ones never need to). A chain made available after
 * that read, on descriptors the guest rewrote once they were used, is read
 * from a new snapshot: never from the old one. */
static void descriptor_snapshots_follow_the_avail_index(void **state)
{
	struct vt *t = *state;
	uint8_t snap[16 * USV_VRING_DESC_SIZE];
	uint32_t heads[4] = { 0, 1, 2, 3 }, lens[4] = { 0 };

	ring(t, 16, 0);
	t->vr.desc_snap = snap;
	t->vr.desc_snap_cap = sizeof(snap);
	for (uint16_t i = 0; i < 4; i++) {
		desc(t, i, DATA_GPA + 0x100ULL * i, 10 + i, 0, 0);
		avail_add(t, i);
	}
	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(pop(t), 0);
		chain_is(t, i, 1, 10 + i, 0, 0);
	}
	assert_int_equal(t->vr.desc_snap_valid, !t->mapped);
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 4), 0);
	/* The guest takes them back and reuses them for new chains. */
	for (uint16_t i = 0; i < 4; i++) {
		desc(t, i, DATA_GPA + 0x1000 + 0x100ULL * i, 50 + i, 0, 0);
		avail_add(t, i);
	}
	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(pop(t), 0);
		chain_is(t, i, 1, 50 + i, 0, 0);
		seg_is(t, 0, DATA_GPA + 0x1000 + 0x100ULL * i, 50 + i);
	}
	/* One chain alone is read descriptor by descriptor, and right too. */
	assert_int_equal(usv_vringh_push(&t->vr, heads, lens, 4), 0);
	desc(t, 0, DATA_GPA + 0x2000, 77, 0, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 1, 77, 0, 0);
	/* A new memory table drops the snapshot. */
	usv_vringh_remap(&t->vr, t->m);
	assert_false(t->vr.desc_snap_valid);
}

/* ---- with a device IOTLB (ACCESS_PLATFORM): addresses are IOVAs --------- */

#define IOVA_BASE 0x7700000000ULL /* region 0 mapped here in one range */
#define IOVA(gpa) (IOVA_BASE + (gpa))
#define PAGES_IOVA 0x9000000000ULL /* two 4 KiB pages, mapped apart */
#define UNMAPPED_IOVA 0xa000000000ULL

/* The ring at RING_GPA seen through IOVAs, region 0 mapped in one range
 * with perm (the passthrough case). */
static struct usv_iotlb *iotlb_ring(struct vt *t, uint32_t num, uint64_t features, uint8_t perm)
{
	struct usv_iotlb *tlb = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);

	assert_non_null(tlb);
	ring(t, num, features);
	assert_int_equal(usv_iotlb_add(tlb, IOVA_BASE, IOVA_BASE + R0_SIZE - 1,
				       uva_of(t, 0), perm), 0);
	t->vr.desc = IOVA((uint64_t)(t->drv->desc - t->buf));
	t->vr.avail = IOVA((uint64_t)(t->drv->avail - t->buf));
	t->vr.used = IOVA((uint64_t)(t->drv->used - t->buf));
	usv_vringh_set_iotlb(&t->vr, tlb);
	return tlb;
}

static void iotlb_ring_and_buffers_are_iovas(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 8, 0, USV_IOTLB_RW);
	uint32_t head = 0, len = 0, id, l;

	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	/* One range over RAM we map: the ring is reached directly. */
	if (t->mapped)
		assert_ptr_equal(t->vr.lused, t->drv->used);
	else
		assert_null(t->vr.lused);
	desc(t, 0, IOVA(DATA_GPA), 100, D_NEXT, 1);
	desc(t, 1, IOVA(DATA_GPA + 0x1000), 200, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 1, 100, 1, 200);
	seg_is(t, 0, DATA_GPA, 100);
	seg_is(t, 1, DATA_GPA + 0x1000, 200);
	len = 200;
	assert_int_equal(usv_vringh_push(&t->vr, &head, &len, 1), 0);
	assert_int_equal(used_idx(t), 1);
	used_elem(t, 0, &id, &l);
	assert_int_equal(l, 200);
	usv_iotlb_free(tlb);
}

/* Through an IOTLB a ring not mapped here is read in snapshots too, the
 * table read whole through its translation; any IOTLB change drops it. */
static void iotlb_descriptor_snapshots(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 16, 0, USV_IOTLB_RW);
	uint8_t snap[16 * USV_VRING_DESC_SIZE];

	t->vr.desc_snap = snap;
	t->vr.desc_snap_cap = sizeof(snap);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	for (uint16_t i = 0; i < 4; i++) {
		desc(t, i, IOVA(DATA_GPA + 0x100ULL * i), 10 + i, 0, 0);
		avail_add(t, i);
	}
	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(pop(t), 0);
		chain_is(t, i, 1, 10 + i, 0, 0);
		seg_is(t, 0, DATA_GPA + 0x100ULL * i, 10 + i);
	}
	assert_int_equal(t->vr.desc_snap_valid, !t->mapped);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_false(t->vr.desc_snap_valid);
	usv_iotlb_free(tlb);
}

static void iotlb_a_buffer_over_two_ranges_is_two_segments(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 8, 0, USV_IOTLB_RW);

	assert_int_equal(usv_iotlb_add(tlb, PAGES_IOVA, PAGES_IOVA + 0xfff,
				       uva_of(t, DATA_GPA), USV_IOTLB_RO), 0);
	assert_int_equal(usv_iotlb_add(tlb, PAGES_IOVA + 0x1000, PAGES_IOVA + 0x1fff,
				       uva_of(t, DATA_GPA + 0x10000), USV_IOTLB_RO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	desc(t, 0, PAGES_IOVA + 0xff0, 0x20, 0, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 0, 2, 0x20, 0, 0);
	seg_is(t, 0, DATA_GPA + 0xff0, 0x10);
	seg_is(t, 1, DATA_GPA + 0x10000, 0x10);
	usv_iotlb_free(tlb);
}

static void iotlb_an_unmapped_buffer_is_a_miss_and_nothing_is_taken(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 8, F_INDIRECT, USV_IOTLB_RW);

	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	desc(t, 0, IOVA(DATA_GPA), 16, D_NEXT, 1);
	desc(t, 1, UNMAPPED_IOVA + 0x10, 64, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), USV_VRING_MISS);
	assert_true(t->vr.miss);
	assert_true(t->vr.miss_iova == UNMAPPED_IOVA + 0x10);
	assert_int_equal(t->vr.miss_access, USV_IOTLB_WO);
	assert_int_equal(t->vr.last_avail_idx, 0);
	/* The answer: the same chain now goes. */
	assert_int_equal(usv_iotlb_add(tlb, UNMAPPED_IOVA, UNMAPPED_IOVA + 0xfff,
				       uva_of(t, DATA_GPA + 0x2000), USV_IOTLB_RW), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	assert_int_equal(pop(t), 0);
	seg_is(t, 1, DATA_GPA + 0x2010, 64);
	/* An indirect table at an unmapped IOVA is a miss too. */
	desc(t, 2, UNMAPPED_IOVA + 0x100000, 32, D_INDIRECT, 0);
	avail_add(t, 2);
	assert_int_equal(pop(t), USV_VRING_MISS);
	assert_true(t->vr.miss_iova == UNMAPPED_IOVA + 0x100000);
	assert_int_equal(t->vr.miss_access, USV_IOTLB_RO);
	/* Mapped, it is read through the IOTLB. */
	ind(t, IND_GPA, 0, IOVA(DATA_GPA), 10, D_NEXT, 0);
	ind(t, IND_GPA, 1, IOVA(DATA_GPA + 0x100), 20, D_WRITE, 0);
	desc(t, 2, IOVA(IND_GPA), 32, D_INDIRECT, 0);
	assert_int_equal(pop(t), 0);
	chain_is(t, 2, 1, 10, 1, 20);
	usv_iotlb_free(tlb);
}

static void iotlb_a_write_through_a_read_only_range_breaks_the_ring(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 8, 0, USV_IOTLB_RW);

	assert_int_equal(usv_iotlb_add(tlb, PAGES_IOVA, PAGES_IOVA + 0xfff,
				       uva_of(t, DATA_GPA), USV_IOTLB_RO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	desc(t, 0, PAGES_IOVA, 64, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), -EPERM);
	assert_non_null(strstr(t->vr.err, "translation failure"));
	assert_false(t->vr.miss);
	usv_iotlb_free(tlb);
}

static void iotlb_prefetch_asks_for_the_ring_or_waits_without_access(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);
	uint64_t used_off;

	ring(t, 8, 0);
	used_off = (uint64_t)(t->drv->used - t->buf);
	t->vr.desc = IOVA((uint64_t)(t->drv->desc - t->buf));
	t->vr.avail = IOVA((uint64_t)(t->drv->avail - t->buf));
	t->vr.used = IOVA(used_off);
	/* Desc and avail mapped, the used ring not. */
	assert_int_equal(usv_iotlb_add(tlb, IOVA_BASE, IOVA(used_off) - 1, uva_of(t, 0),
				       USV_IOTLB_RO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), USV_VRING_MISS);
	assert_true(t->vr.miss);
	assert_true(t->vr.miss_iova == IOVA(used_off));
	assert_int_equal(t->vr.miss_access, USV_IOTLB_WO);
	/* Mapped read-only: nothing to ask, the ring just waits. */
	assert_int_equal(usv_iotlb_add(tlb, IOVA(used_off), IOVA(used_off) + 0xfff,
				       uva_of(t, used_off), USV_IOTLB_RO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), USV_VRING_MISS);
	assert_false(t->vr.miss);
	/* Writable: the ring goes. */
	usv_iotlb_del(tlb, IOVA(used_off), IOVA(used_off));
	assert_int_equal(usv_iotlb_add(tlb, IOVA(used_off), IOVA(used_off) + 0xfff,
				       uva_of(t, used_off), USV_IOTLB_WO), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	assert_int_equal(pop(t), -EAGAIN);
	usv_iotlb_free(tlb);
}

/* A buffer or an indirect table wrapping past 2^64 is no buffer, as without
 * an IOTLB: EFAULT, not a miss at its first address, which is mapped (the
 * ring would ask for it again after every answer). */
static void iotlb_a_buffer_wrapping_past_2_64_is_efault(void **state)
{
	struct vt *t = *state;
	struct usv_iotlb *tlb = iotlb_ring(t, 8, F_INDIRECT, USV_IOTLB_RW);

	assert_int_equal(usv_iotlb_add(tlb, 0ULL - 0x1000, UINT64_MAX, uva_of(t, DATA_GPA),
				       USV_IOTLB_RW), 0);
	assert_int_equal(usv_iotlb_add(tlb, 0, 0xfff, uva_of(t, DATA_GPA + 0x1000),
				       USV_IOTLB_RW), 0);
	usv_vringh_set_iotlb(&t->vr, tlb);
	assert_int_equal(usv_vringh_prefetch(&t->vr), 0);
	/* The last 16 bytes below 2^64 are a buffer. */
	desc(t, 0, 0ULL - 16, 16, D_WRITE, 0);
	avail_add(t, 0);
	assert_int_equal(pop(t), 0);
	seg_is(t, 0, DATA_GPA + 0xff0, 16);
	/* 17 are not. */
	desc(t, 1, 0ULL - 16, 17, D_WRITE, 0);
	avail_add(t, 1);
	assert_int_equal(pop(t), -EFAULT);
	assert_non_null(strstr(t->vr.err, "translation failure"));
	assert_false(t->vr.miss);
	assert_int_equal(t->vr.last_avail_idx, 1);
	/* Nor is an indirect table. */
	t->vr.last_avail_idx = 2;
	desc(t, 2, 0ULL - 16, 32, D_INDIRECT, 0);
	avail_add(t, 2);
	assert_int_equal(pop(t), -EFAULT);
	assert_non_null(strstr(t->vr.err, "indirect"));
	assert_false(t->vr.miss);
	assert_int_equal(t->vr.last_avail_idx, 2);
	usv_iotlb_free(tlb);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(iotlb_ring_and_buffers_are_iovas),
		BOTH(iotlb_descriptor_snapshots),
		BOTH(iotlb_a_buffer_over_two_ranges_is_two_segments),
		BOTH(iotlb_an_unmapped_buffer_is_a_miss_and_nothing_is_taken),
		BOTH(iotlb_a_write_through_a_read_only_range_breaks_the_ring),
		BOTH(iotlb_prefetch_asks_for_the_ring_or_waits_without_access),
		BOTH(descriptor_snapshots_follow_the_avail_index),
		BOTH(iotlb_a_buffer_wrapping_past_2_64_is_efault),
		BOTH(pop_on_an_empty_ring_is_eagain),
		BOTH(simple_chain),
		BOTH(multi_descriptor_chains),
		BOTH(out_then_in),
		BOTH(zero_length_descriptor_is_not_translated),
		BOTH(indirect_table),
		BOTH(indirect_followed_by_next),
		BOTH(indirect_table_of_65536_entries),
		BOTH(chain_spanning_two_regions),
		BOTH(exactly_max_segs_segments),
		BOTH(a_chain_of_num_descriptors),
		BOTH(chains_count_their_descriptor_reads),
		BOTH(a_chain_of_1024_zero_length_entries_is_taken),
		BOTH(err_chain_longer_than_1024_in_zero_length_entries),
		BOTH(a_ring_of_2048_bounds_chains_at_2048),
		BOTH(err_avail_idx_moved_by_more_than_num),
		BOTH(heads_in_order_across_wrap_and_unpop),
		BOTH(err_head_at_or_above_num),
		BOTH(err_next_at_or_above_num),
		BOTH(err_descriptor_loop),
		BOTH(err_out_after_in),
		BOTH(err_nested_indirect),
		BOTH(err_indirect_len_not_a_multiple_of_16),
		BOTH(err_indirect_table_too_big),
		BOTH(err_indirect_table_without_end),
		BOTH(err_buffer_outside_guest_memory),
		BOTH(err_more_than_max_segs_segments),
		BOTH(unpop_gives_chains_back),
		BOTH(push_one),
		BOTH(push_wraps_at_the_ring_end),
		BOTH(push_batches_larger_than_64),
		BOTH(push_logs_the_used_ring),
		BOTH(need_signal_without_event_idx),
		BOTH(need_signal_notify_on_empty),
		BOTH(need_signal_with_event_idx),
		BOTH(need_signal_event_idx_wraps),
		BOTH(need_signal_forgets_after_a_full_wrap),
		BOTH(notify_control_without_event_idx),
		BOTH(notify_control_with_event_idx),
		BOTH(write_used_flags_publishes_them),
		MAPPED(log_write_sets_the_page_bits),
		MAPPED(log_write_long_ranges),
		MAPPED(log_write_marks_the_log_for_its_eventfd),
		BOTH(log_chain_logs_the_written_part),
		BOTH(kernel_indirect_table_outside_guest_memory),
		BOTH(kernel_indirect_table_partly_outside_guest_memory),
		BOTH(kernel_huge_indirect_table_outside_guest_memory),
		BOTH(kernel_out_after_in_with_a_bad_address),
		BOTH(kernel_full_iovec_before_a_bad_address),
		BOTH(kernel_chain_longer_than_4_gib),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
