/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB look-ahead of a split ring (usv_vringh_lookahead): with a
 * strict guest IOMMU every buffer has a fresh IOVA, so a ring that asks for
 * one page at a time waits one QEMU round trip per page. Walking the chains
 * the guest made available, without taking them, finds the pages they will
 * need; asked together, they are answered in one pass of QEMU's loop.
 */
#include <string.h>

#include "core/iotlb.h"
#include "core/vringh_internal.h"
#include "usvhost/vringh.h"

/* Descriptors and indirect entries one look-ahead reads at most. */
#define LOOK_DESCS 256u
#define LOOK_IND 64u
/* QEMU answers a miss with at least the page holding it. */
#define PAGE_MASK_4K (~(uint64_t)0xfff)

struct look {
	struct usv_vringh *vr;
	struct usv_iotlb_ask *ask;
	unsigned n, max;
	unsigned descs; /* read so far */
};

static bool full(const struct look *l)
{
	return l->n >= l->max || l->descs >= LOOK_DESCS;
}

static void add_ask(struct look *l, uint64_t iova, unsigned access)
{
	for (unsigned i = 0; i < l->n; i++)
		if ((l->ask[i].iova & PAGE_MASK_4K) == (iova & PAGE_MASK_4K) &&
		    l->ask[i].access == access)
			return;
	if (l->n < l->max)
		l->ask[l->n++] = (struct usv_iotlb_ask){ .iova = iova, .access = (uint8_t)access };
}

/* Asks for every page of [iova, iova+len) the IOTLB lacks. true when all of
 * it is mapped with access; false when a page is missing or the access is
 * refused (the pop will say so). */
static bool cover(struct look *l, uint64_t iova, uint64_t len, unsigned access)
{
	uint64_t last = iova + len - 1, addr = iova;
	bool mapped = true;

	if (!len)
		return true;
	if (last < iova || full(l))
		return false;
	while (!full(l)) {
		const struct usv_iotlb_map *m = usv_iotlb_first(l->vr->iotlb, addr, last);
		uint64_t next;

		if (!m || m->start > addr) {
			mapped = false;
			add_ask(l, addr, access);
			next = (addr & PAGE_MASK_4K) + 0x1000;
		} else {
			if (!(m->perm & access))
				return false;
			next = m->last + 1;
		}
		if (next == 0 || next > last)
			break;
		addr = next;
	}
	return mapped;
}

/* The entries of a mapped indirect table, up to LOOK_IND. */
static void look_indirect(struct look *l, const struct vdesc *ind)
{
	struct vdesc tbl[16];
	unsigned count = ind->len / (unsigned)sizeof(struct vdesc);

	if (count > LOOK_IND)
		count = LOOK_IND;
	for (unsigned base = 0; base < count && !full(l); base += 16) {
		unsigned k = count - base < 16 ? count - base : 16;

		if (usv_vringh_iova_read(l->vr, ind->addr + (uint64_t)base * sizeof(tbl[0]), tbl,
					 k * sizeof(tbl[0])))
			return;
		for (unsigned j = 0; j < k && !full(l); j++) {
			l->descs++;
			if (tbl[j].flags & USV_VRING_DESC_F_INDIRECT)
				return;
			cover(l, tbl[j].addr, tbl[j].len,
			      tbl[j].flags & USV_VRING_DESC_F_WRITE ? USV_IOTLB_WO : USV_IOTLB_RO);
			if (!(tbl[j].flags & USV_VRING_DESC_F_NEXT))
				return;
		}
	}
}

static int read_desc(struct look *l, unsigned i, struct vdesc *d)
{
	struct usv_vringh *vr = l->vr;

	l->descs++;
	if (vr->ldesc) {
		memcpy(d, vr->ldesc + (size_t)i * sizeof(*d), sizeof(*d));
		return 0;
	}
	return usv_vringh_iova_read(vr, vr->desc + (uint64_t)i * sizeof(*d), d, sizeof(*d));
}

/* One chain, from its head; false when it cannot be read. */
static bool look_chain(struct look *l, uint16_t head)
{
	struct usv_vringh *vr = l->vr;
	unsigned i = head, steps = 0;
	struct vdesc d;

	do {
		if (i >= vr->num || ++steps > vr->num || full(l) || read_desc(l, i, &d))
			return false;
		if (d.flags & USV_VRING_DESC_F_INDIRECT) {
			if (d.len % sizeof(struct vdesc))
				return false;
			if (cover(l, d.addr, d.len, USV_IOTLB_RO))
				look_indirect(l, &d);
		} else {
			cover(l, d.addr, d.len,
			      d.flags & USV_VRING_DESC_F_WRITE ? USV_IOTLB_WO : USV_IOTLB_RO);
		}
		i = d.next;
	} while (d.flags & USV_VRING_DESC_F_NEXT);
	return true;
}

unsigned usv_vringh_lookahead(struct usv_vringh *vr, struct usv_iotlb_ask *ask, unsigned n,
			      unsigned max)
{
	struct look l = { .vr = vr, .ask = ask, .n = n, .max = max };
	bool miss = vr->miss;
	uint64_t miss_iova = vr->miss_iova;
	uint8_t miss_access = vr->miss_access;
	uint16_t idx = vr->last_avail_idx;

	if (!vr->iotlb || vr->packed || !vr->meta_ok)
		return n;
	for (unsigned k = 0; k < USV_VRING_LOOKAHEAD_CHAINS && idx != vr->avail_idx && !full(&l);
	     k++, idx++) {
		uint16_t head;

		if (usv_vringh_avail_head(vr, idx, &head) || head >= vr->num ||
		    !look_chain(&l, head))
			break;
	}
	/* Reads through the IOTLB record nothing here, but keep the ring's
	 * own miss whatever they did. */
	vr->miss = miss;
	vr->miss_iova = miss_iova;
	vr->miss_access = miss_access;
	return l.n;
}
