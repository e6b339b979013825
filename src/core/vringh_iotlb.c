/* SPDX-License-Identifier: MIT */
/*
 * Ring accesses that do not go through our own mapping of the ring, shared
 * by the split walker (vringh.c) and the packed one (vringh_packed.c):
 * QEMU's address space, through the device IOTLB when the guest has a
 * vIOMMU (the kernel's vhost_copy_{to,from}_user and translate_desc for
 * ring metadata), the IOTLB checks of a ring part, and the dirty log of an
 * IOVA by guest address.
 */
#include <errno.h>
#include <stdint.h>

#include "core/guestmem.h"
#include "core/iotlb.h"
#include "core/vringh_internal.h"
#include "usvhost/vringh.h"

/* IOVA range [iova, iova+len) mapped with access all along? 0, -EPERM,
 * -EFAULT when it wraps past 2^64, or USV_VRING_MISS with the first
 * unmapped address. */
int usv_vringh_iova_check(struct usv_vringh *vr, uint64_t iova, uint64_t len, unsigned access)
{
	uint64_t last = iova + len - 1, addr = iova;

	if (!len)
		return 0;
	if (last < iova)
		return -EFAULT; /* wraps past 2^64: no miss to ask for */
	for (;;) {
		const struct usv_iotlb_map *m = usv_iotlb_first(vr->iotlb, addr, last);

		if (!m || m->start > addr)
			return usv_vringh_miss(vr, addr, access);
		if (!(m->perm & access))
			return -EPERM;
		if (m->last >= last || m->last < addr)
			return 0;
		addr = m->last + 1;
	}
}

/* IOVA [iova, iova+len) as QEMU virtual pieces; the piece count, or
 * -errno (USV_VRING_MISS, -EPERM, -ENOBUFS). */
static int iova_pieces(struct usv_vringh *vr, uint64_t iova, uint64_t len, unsigned access,
		       struct usv_iotlb_seg *segs, unsigned nsegs)
{
	uint64_t at;
	int n = usv_iotlb_translate(vr->iotlb, iova, len, access, segs, nsegs, &at);

	return n == -EAGAIN ? usv_vringh_miss(vr, at, access) : n;
}

/* A ring access not mapped here: QEMU's address space, through the IOTLB
 * when there is one (vhost_copy_{to,from}_user, __vhost_get_user). */
int usv_vringh_ring_io(struct usv_vringh *vr, uint64_t base, uint64_t off, void *buf,
		       size_t len, bool write)
{
	struct usv_iotlb_seg seg[4];
	uint8_t *p = buf;
	int n;

	if (!vr->iotlb)
		return write ? usv_uva_write(vr->mem, base + off, buf, len)
			     : usv_uva_read(vr->mem, base + off, buf, len);
	n = iova_pieces(vr, base + off, len, write ? USV_IOTLB_WO : USV_IOTLB_RO, seg, 4);
	if (n < 0)
		return -EFAULT;
	for (int i = 0; i < n; i++) {
		int ret = write ? usv_uva_write(vr->mem, seg[i].addr, p, seg[i].len)
				: usv_uva_read(vr->mem, seg[i].addr, p, seg[i].len);

		if (ret)
			return ret;
		p += seg[i].len;
	}
	return 0;
}

int usv_vringh_log_iova(struct usv_vringh *vr, uint64_t iova, uint64_t len)
{
	struct usv_iotlb_seg seg[4];
	int n = iova_pieces(vr, iova, len, USV_IOTLB_WO, seg, 4);

	if (n < 0)
		return -EFAULT;
	for (int i = 0; i < n; i++) {
		uint64_t uva = seg[i].addr, left = seg[i].len;

		/* A piece of QEMU's address space may span regions that are
		 * adjacent there: each part is logged at its guest address. */
		while (left) {
			const struct usv_mem_region *r = usv_guestmem_find_uva(vr->mem, uva);
			uint64_t off, k;
			int ret;

			if (!r)
				return -EFAULT;
			off = uva - r->uaddr;
			k = left - 1 > r->last - r->gpa - off ? r->last - r->gpa - off + 1 : left;
			ret = usv_vringh_log_write(vr, r->gpa + off, k);
			if (ret)
				return ret;
			uva += k;
			left -= k;
		}
	}
	return 0;
}

/* One ring part through the IOTLB: all mapped with access, and our pointer
 * when it is one range of QEMU's that we map (NULL: access by access). */
int usv_vringh_prefetch_part(struct usv_vringh *vr, uint64_t iova, uint64_t len,
			     unsigned access, uint8_t **local, uint64_t *uva)
{
	struct usv_iotlb_seg seg[1];
	int ret = usv_vringh_iova_check(vr, iova, len, access);

	*local = NULL;
	if (ret)
		return ret;
	if (iova_pieces(vr, iova, len, access, seg, 1) == 1) {
		*uva = seg[0].addr;
		*local = usv_uva_local(vr->mem, seg[0].addr, len);
	}
	return 0;
}
