/* SPDX-License-Identifier: MIT */
/*
 * What the split ring (vringh.c) and the packed ring (vringh_packed.c)
 * share: the error text, buffer translation into a chain's segments, the
 * chain bound, ring accesses through the IOTLB, and the packed ring's entry
 * points the usv_vringh_* calls dispatch to.
 */
#ifndef USV_CORE_VRINGH_INTERNAL_H
#define USV_CORE_VRINGH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usvhost/vringh.h"

/* Sets vr->err and returns err. */
int usv_vringh_fail(struct usv_vringh *vr, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends guest buffer [addr, addr+len) to the chain, readable or writable;
 * where and i name the descriptor in errors. */
int usv_vringh_add_buf(struct usv_vringh *vr, struct usv_chain *c, uint64_t addr,
		       uint32_t len, bool write, const char *where, unsigned i);
/* The chain bound: -EINVAL once it read more than max(num, 1024)
 * descriptors, not counting ptrs indirect pointers. */
int usv_vringh_charge(struct usv_vringh *vr, const struct usv_chain *c, unsigned ptrs);
/* Is [addr, addr+len) all guest memory (an indirect table, before any
 * entry is read)? */
/* Records a miss of iova for access and returns USV_VRING_MISS: the ring
 * waits for the UPDATE that covers it. */
int usv_vringh_miss(struct usv_vringh *vr, uint64_t iova, unsigned access);
bool usv_vringh_table_ok(const struct usv_vringh *vr, uint64_t addr, uint64_t len);

/* Through the IOTLB (vr->iotlb set): is [iova, iova+len) mapped with
 * access all along (0, -EPERM, -EFAULT, USV_VRING_MISS)? */
int usv_vringh_iova_check(struct usv_vringh *vr, uint64_t iova, uint64_t len, unsigned access);
/* A ring access at base+off that is not through our own mapping: QEMU's
 * address space, through the IOTLB when there is one. 0 or -EFAULT. */
int usv_vringh_ring_io(struct usv_vringh *vr, uint64_t base, uint64_t off, void *buf,
		       size_t len, bool write);
/* Checks a ring part through the IOTLB and gives our pointer to it when it
 * is one range we map (*local NULL otherwise) and its QEMU address. */
int usv_vringh_prefetch_part(struct usv_vringh *vr, uint64_t iova, uint64_t len,
			     unsigned access, uint8_t **local, uint64_t *uva);
/* Logs the guest pages under IOVA [iova, iova+len) (log_used() of the
 * kernel with an IOTLB: by QEMU's address, each part at its guest address). */
int usv_vringh_log_iova(struct usv_vringh *vr, uint64_t iova, uint64_t len);

void usv_vringh_packed_remap(struct usv_vringh *vr);
/* The packed ring's parts through the IOTLB (usv_vringh_prefetch). */
int usv_vringh_packed_prefetch(struct usv_vringh *vr);
int usv_vringh_packed_pop(struct usv_vringh *vr, struct usv_chain *c);
void usv_vringh_packed_unpop(struct usv_vringh *vr, unsigned n);
int usv_vringh_packed_push(struct usv_vringh *vr, const uint32_t *heads,
			   const uint32_t *lens, unsigned n);
bool usv_vringh_packed_need_signal(struct usv_vringh *vr);
bool usv_vringh_packed_enable_notify(struct usv_vringh *vr);
void usv_vringh_packed_disable_notify(struct usv_vringh *vr);
bool usv_vringh_packed_has_avail(struct usv_vringh *vr);
int usv_vringh_packed_write_event(struct usv_vringh *vr);
void usv_vringh_packed_describe(struct usv_vringh *vr, char *buf, size_t n);

#endif
