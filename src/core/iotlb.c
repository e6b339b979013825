/* SPDX-License-Identifier: MIT */
/*
 * The device IOTLB (drivers/vhost/iotlb.c's semantics): a sorted array with
 * a running maximum of the range ends, so a lookup is two binary searches
 * even with overlapping ranges. Changes are O(n) over at most 2048 ranges,
 * which only the owner's write() pays.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/iotlb.h"

struct usv_iotlb *usv_iotlb_new(uint32_t limit)
{
	struct usv_iotlb *tlb = calloc(1, sizeof(*tlb));

	if (tlb)
		tlb->limit = limit;
	return tlb;
}

void usv_iotlb_free(struct usv_iotlb *tlb)
{
	if (!tlb)
		return;
	free(tlb->maps);
	free(tlb->max_last);
	free(tlb);
}

static void recompute_max(struct usv_iotlb *tlb, uint32_t from)
{
	for (uint32_t i = from; i < tlb->n; i++) {
		uint64_t prev = i ? tlb->max_last[i - 1] : 0;

		tlb->max_last[i] = tlb->maps[i].last > prev || i == 0 ? tlb->maps[i].last : prev;
	}
}

static void remove_at(struct usv_iotlb *tlb, uint32_t i)
{
	memmove(&tlb->maps[i], &tlb->maps[i + 1], (tlb->n - i - 1) * sizeof(tlb->maps[0]));
	tlb->n--;
	recompute_max(tlb, i);
}

static int reserve(struct usv_iotlb *tlb)
{
	struct usv_iotlb_map *m;
	uint64_t *x;
	uint32_t cap;

	if (tlb->n < tlb->cap)
		return 0;
	cap = tlb->cap ? tlb->cap * 2 : 16;
	m = realloc(tlb->maps, cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	tlb->maps = m;
	x = realloc(tlb->max_last, cap * sizeof(*x));
	if (!x)
		return -ENOMEM;
	tlb->max_last = x;
	tlb->cap = cap;
	return 0;
}

int usv_iotlb_assign(struct usv_iotlb *dst, const struct usv_iotlb *src)
{
	if (src->n > dst->cap) {
		struct usv_iotlb_map *m = malloc(src->n * sizeof(*m));
		uint64_t *x = malloc(src->n * sizeof(*x));

		if (!m || !x) {
			free(m);
			free(x);
			return -ENOMEM;
		}
		free(dst->maps);
		free(dst->max_last);
		dst->maps = m;
		dst->max_last = x;
		dst->cap = src->n;
	}
	if (src->n) {
		memcpy(dst->maps, src->maps, src->n * sizeof(*src->maps));
		memcpy(dst->max_last, src->max_last, src->n * sizeof(*src->max_last));
	}
	dst->n = src->n;
	dst->limit = src->limit;
	dst->seq = src->seq;
	dst->gen = src->gen;
	return 0;
}

static int add_one(struct usv_iotlb *tlb, uint64_t start, uint64_t last, uint64_t addr,
		   uint8_t perm)
{
	uint32_t lo = 0, hi, oldest = 0;
	int ret;

	/* At the limit the oldest range goes first (VHOST_IOTLB_FLAG_RETIRE). */
	if (tlb->limit && tlb->n >= tlb->limit) {
		for (uint32_t i = 1; i < tlb->n; i++)
			if (tlb->maps[i].seq < tlb->maps[oldest].seq)
				oldest = i;
		remove_at(tlb, oldest);
	}
	ret = reserve(tlb);
	if (ret)
		return ret;
	/* After every range with start <= this one: the newest of equal
	 * starts comes last. */
	hi = tlb->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (tlb->maps[mid].start <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&tlb->maps[lo + 1], &tlb->maps[lo], (tlb->n - lo) * sizeof(tlb->maps[0]));
	tlb->maps[lo] = (struct usv_iotlb_map){
		.start = start, .last = last, .addr = addr, .seq = tlb->seq++, .perm = perm,
	};
	tlb->n++;
	recompute_max(tlb, lo);
	return 0;
}

int usv_iotlb_add(struct usv_iotlb *tlb, uint64_t start, uint64_t last, uint64_t addr,
		  uint8_t perm)
{
	int ret;

	if (last < start)
		return -EFAULT;
	tlb->gen++;
	/* The whole space has no 64-bit size: two halves, as the kernel. */
	if (start == 0 && last == UINT64_MAX) {
		uint64_t mid = last / 2;

		ret = add_one(tlb, 0, mid, addr, perm);
		if (ret)
			return ret;
		addr += mid + 1;
		start = mid + 1;
	}
	return add_one(tlb, start, last, addr, perm);
}

static int64_t first_index(const struct usv_iotlb *tlb, uint64_t start, uint64_t last)
{
	uint32_t lo = 0, hi = tlb->n;

	/* The first range whose running maximum end reaches start is the
	 * first range (in start order) that ends at or after start. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (tlb->max_last[mid] >= start)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == tlb->n || tlb->maps[lo].start > last)
		return -1;
	return lo;
}

const struct usv_iotlb_map *usv_iotlb_first(const struct usv_iotlb *tlb, uint64_t start,
					    uint64_t last)
{
	int64_t i = first_index(tlb, start, last);

	return i < 0 ? NULL : &tlb->maps[i];
}

void usv_iotlb_del(struct usv_iotlb *tlb, uint64_t start, uint64_t last)
{
	int64_t i;

	tlb->gen++;
	while ((i = first_index(tlb, start, last)) >= 0)
		remove_at(tlb, (uint32_t)i);
}

int usv_iotlb_translate(const struct usv_iotlb *tlb, uint64_t iova, uint64_t len,
			unsigned access, struct usv_iotlb_seg *segs, unsigned nsegs,
			uint64_t *miss)
{
	uint64_t done = 0, addr = iova, last = iova + len - 1;
	unsigned n = 0;

	while (len > done) {
		const struct usv_iotlb_map *m;
		uint64_t size;

		if (n >= nsegs)
			return -ENOBUFS;
		m = usv_iotlb_first(tlb, addr, last);
		if (!m || m->start > addr) {
			*miss = addr;
			return -EAGAIN;
		}
		if (!(m->perm & access))
			return -EPERM;
		size = m->last - addr + 1;
		segs[n].addr = m->addr + (addr - m->start);
		segs[n].len = len - done < size ? len - done : size;
		/* By the segment, not the range: a range reaching 2^64-1 has
		 * a size that would wrap. */
		done += segs[n].len;
		addr += segs[n].len;
		n++;
	}
	return (int)n;
}
