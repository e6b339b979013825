/* SPDX-License-Identifier: MIT */
/*
 * The device IOTLB: IOVA ranges mapped to owner virtual addresses with a
 * permission, as drivers/vhost/iotlb.c keeps them. Ranges may overlap (an
 * UPDATE does not remove what it covers); a lookup finds the overlapping
 * range with the lowest start, the oldest first among equal starts, as the
 * kernel's interval tree does. At the limit the oldest range is retired.
 * Not locked: the owner (the device, under its lock) serialises calls.
 */
#ifndef USV_CORE_IOTLB_H
#define USV_CORE_IOTLB_H

#include <stdint.h>

/* VHOST_ACCESS_RO / WO / RW */
#define USV_IOTLB_RO 1u
#define USV_IOTLB_WO 2u
#define USV_IOTLB_RW 3u
/* The vhost module parameter max_iotlb_entries. */
#define USV_IOTLB_MAX_ENTRIES 2048u

struct usv_iotlb_map {
	uint64_t start, last; /* IOVA range, inclusive */
	uint64_t addr;        /* owner virtual address of start */
	uint64_t seq;         /* insertion order: retirement and ties */
	uint8_t perm;
};

struct usv_iotlb {
	struct usv_iotlb_map *maps; /* sorted by (start, seq) */
	uint64_t *max_last;         /* max_last[i]: largest last in maps[0..i] */
	uint32_t n, cap, limit;
	uint64_t seq;
	uint64_t gen; /* bumped by every change: translation caches compare it */
};

struct usv_iotlb_seg {
	uint64_t addr, len; /* owner virtual address, bytes */
};

struct usv_iotlb *usv_iotlb_new(uint32_t limit);
void usv_iotlb_free(struct usv_iotlb *tlb);
/* dst becomes a copy of src (a datapath's own, read while the core changes
 * the original). 0 or -ENOMEM (dst unchanged). */
int usv_iotlb_assign(struct usv_iotlb *dst, const struct usv_iotlb *src);
/* vhost_iotlb_add_range(): -EFAULT when last < start, -ENOMEM. [0, 2^64-1]
 * becomes two ranges. */
int usv_iotlb_add(struct usv_iotlb *tlb, uint64_t start, uint64_t last, uint64_t addr,
		  uint8_t perm);
/* vhost_iotlb_del_range(): every range overlapping [start, last] goes. */
void usv_iotlb_del(struct usv_iotlb *tlb, uint64_t start, uint64_t last);
/* The range the kernel's interval tree finds first for [start, last]. */
const struct usv_iotlb_map *usv_iotlb_first(const struct usv_iotlb *tlb, uint64_t start,
					    uint64_t last);
/* translate_desc(): [iova, iova+len) as up to nsegs owner ranges with access
 * (USV_IOTLB_RO/WO). Returns the segment count, -EAGAIN when an address is
 * not mapped (*miss set to it), -EPERM when a range lacks access, -ENOBUFS
 * when more than nsegs segments are needed. */
int usv_iotlb_translate(const struct usv_iotlb *tlb, uint64_t iova, uint64_t len,
			unsigned access, struct usv_iotlb_seg *segs, unsigned nsegs,
			uint64_t *miss);

#endif
