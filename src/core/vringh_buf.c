/* SPDX-License-Identifier: MIT */
/*
 * What the split and the packed ring walkers share (vringh.c,
 * vringh_packed.c): a broken ring's reason, guest buffers turned into chain
 * segments (through the memory table, or the device IOTLB), the chain
 * bound and its charge, the indirect-table check, copies between chains and
 * flat buffers, and the dirty log.
 */
#include "usvhost/vringh.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/caller.h"
#include "core/guestmem.h"
#include "core/iotlb.h"
#include "core/vringh_internal.h"
#include "usvhost/vhost_abi.h"

int usv_vringh_fail(struct usv_vringh *vr, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vr->err, sizeof(vr->err), fmt, ap);
	va_end(ap);
	return err;
}

int usv_vringh_miss(struct usv_vringh *vr, uint64_t iova, unsigned access)
{
	vr->miss = true;
	vr->miss_iova = iova;
	vr->miss_access = (uint8_t)access;
	return USV_VRING_MISS;
}

/* Appends the segments of buffer [iova, iova+len) to the chain, through
 * the IOTLB (translate_desc() with dev->iotlb): pieces of QEMU's address
 * space, cut again where our regions end. A piece outside every region
 * (QEMU mapped no RAM there) is reached through its pinned memory and has
 * no guest address to log. */
static int translate_iova(struct usv_vringh *vr, struct usv_chain *c, uint64_t iova,
			  uint32_t len, bool write)
{
	unsigned access = write ? USV_IOTLB_WO : USV_IOTLB_RO;
	uint64_t last = iova + len - 1, addr = iova, left = len;

	while (left) {
		const struct usv_iotlb_map *m;
		const struct usv_mem_region *r;
		uint64_t uva, n;
		uint8_t *local = NULL;
		uint64_t gpa = 0;

		if (c->nout + c->nin == c->max_segs)
			return -ENOBUFS;
		/* Wrapping past 2^64: no buffer, as translate() says. Its
		 * first address may be mapped, and a miss there would be
		 * asked for again after every answer. */
		if (last < iova)
			return -EFAULT;
		m = usv_iotlb_first(vr->iotlb, addr, last);
		if (!m || m->start > addr)
			return usv_vringh_miss(vr, addr, access);
		if (!(m->perm & access))
			return -EPERM;
		uva = m->addr + (addr - m->start);
		n = m->last - addr < left - 1 ? m->last - addr + 1 : left;
		r = usv_guestmem_find_uva(vr->mem, uva);
		if (r) {
			uint64_t in_r = r->last - r->gpa - (uva - r->uaddr); /* minus one */

			if (n - 1 > in_r)
				n = in_r + 1;
			if (r->local && (!write || r->writable))
				local = r->local + (uva - r->uaddr);
			gpa = r->gpa + (uva - r->uaddr);
		}
		c->seg[c->nout + c->nin] = (struct usv_seg){
			.local = local, .uva = uva, .gpa = gpa, .len = (uint32_t)n, .no_gpa = !r,
		};
		if (write) {
			c->nin++;
			c->in_len += (uint32_t)n;
		} else {
			c->nout++;
			c->out_len += (uint32_t)n;
		}
		addr += n;
		left -= n;
	}
	return 0;
}

/* Appends the segments of guest buffer [gpa, gpa+len) to the chain. */
static int translate(struct usv_vringh *vr, struct usv_chain *c, uint64_t gpa,
		     uint32_t len, bool write)
{
	/* A buffer that wraps past the top of the guest address space is no
	 * buffer: translate_desc() finds no mapping for [addr, last] with
	 * last < addr. EFAULT, before any segment is produced. */
	bool wraps = len && gpa + len - 1 < gpa;

	while (len) {
		const struct usv_mem_region *r;
		uint64_t avail;
		uint32_t n;

		/* translate_desc(): room first, then the address. */
		if (c->nout + c->nin == c->max_segs)
			return -ENOBUFS;
		if (wraps)
			return -EFAULT;
		r = usv_guestmem_find(vr->mem, gpa);
		if (!r)
			return -EFAULT;
		avail = r->last - gpa; /* bytes left in the region, minus one */
		n = (uint64_t)len - 1 > avail ? (uint32_t)(avail + 1) : len;
		/* A read-only mapping is never written through: such pieces
		 * go through the owner's memory, which refuses them. */
		c->seg[c->nout + c->nin] = (struct usv_seg){
			.local = r->local && (!write || r->writable) ?
					 r->local + (gpa - r->gpa) : NULL,
			.uva = r->uaddr + (gpa - r->gpa),
			.gpa = gpa,
			.len = n,
		};
		if (write) {
			c->nin++;
			c->in_len += n;
		} else {
			c->nout++;
			c->out_len += n;
		}
		gpa += n;
		len -= n;
	}
	return 0;
}

int usv_vringh_add_buf(struct usv_vringh *vr, struct usv_chain *c, uint64_t addr,
		       uint32_t len, bool write, const char *where, unsigned i)
{
	unsigned nin = c->nin;
	int ret;

	if ((write ? c->in_len : c->out_len) + (uint64_t)len > UINT32_MAX)
		return usv_vringh_fail(vr, -EINVAL, "chain longer than 4 GiB at idx %u", i);
	/* The kernel translates before it checks the order. */
	ret = vr->iotlb ? translate_iova(vr, c, addr, len, write)
			: translate(vr, c, addr, len, write);
	if (ret == USV_VRING_MISS)
		return ret; /* not an error: the ring waits for the UPDATE */
	if (ret)
		return usv_vringh_fail(vr, ret, "translation failure %d %sdescriptor idx %u "
				"(addr 0x%llx len %u)", ret, where, i,
				(unsigned long long)addr, len);
	if (!write && nin)
		return usv_vringh_fail(vr, -EINVAL, "%sdescriptor has out after in: idx %u", where, i);
	return 0;
}

/* The most descriptor reads one chain may cost (see USV_VRING_MIN_CHAIN_DESCS). */
static unsigned chain_desc_limit(const struct usv_vringh *vr)
{
	return vr->num > USV_VRING_MIN_CHAIN_DESCS ? vr->num : USV_VRING_MIN_CHAIN_DESCS;
}

/* Bounds the chain's length: its descriptors, an indirect table's entries
 * in place of the descriptor pointing at it (ptrs of c->ndesc). Checked
 * after a descriptor was taken, so that a chain the kernel refuses gets the
 * kernel's error first. */
int usv_vringh_charge(struct usv_vringh *vr, const struct usv_chain *c, unsigned ptrs)
{
	if (c->ndesc - ptrs > chain_desc_limit(vr))
		return usv_vringh_fail(vr, -EINVAL, "chain longer than %u descriptors, head %u",
				chain_desc_limit(vr), c->head);
	return 0;
}

bool usv_vringh_table_ok(const struct usv_vringh *vr, uint64_t addr, uint64_t len)
{
	for (uint64_t gpa = addr, left = len; left;) {
		const struct usv_mem_region *r = usv_guestmem_find(vr->mem, gpa);
		uint64_t n;

		if (!r)
			return false;
		n = left - 1 > r->last - gpa ? r->last - gpa + 1 : left;
		gpa += n;
		left -= n;
	}
	return true;
}

/* Walks segments [first, first+count) from byte off for len bytes, copying
 * between them and buf; pieces we have not mapped go through the owner's
 * pinned /proc/<pid>/mem, one transfer each. */
static int chain_copy(const struct usv_chain *c, unsigned first, unsigned count,
		      uint32_t off, uint8_t *buf, uint32_t len,
		      const struct usv_guestmem *m, bool to_guest)
{
	for (unsigned i = first; i < first + count && len; i++) {
		const struct usv_seg *s = &c->seg[i];
		uint32_t n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off < len ? s->len - off : len;
		if (s->local) {
			if (to_guest)
				memcpy((uint8_t *)s->local + off, buf, n);
			else
				memcpy(buf, (uint8_t *)s->local + off, n);
		} else if (!m || m->memfd < 0 ||
			   (to_guest ? usv_procmem_write(m->memfd, s->uva + off, buf, n)
				     : usv_procmem_read(m->memfd, s->uva + off, buf, n))) {
			return -EFAULT;
		}
		buf += n;
		len -= n;
		off = 0;
	}
	return len ? -EFAULT : 0; /* the chain is shorter than asked */
}

int usv_chain_read(const struct usv_chain *c, uint32_t off, void *buf, uint32_t len,
		   const struct usv_guestmem *m)
{
	return chain_copy(c, 0, c->nout, off, buf, len, m, false);
}

int usv_chain_write(const struct usv_chain *c, uint32_t off, const void *buf,
		    uint32_t len, const struct usv_guestmem *m)
{
	return chain_copy(c, c->nout, c->nin, off, (uint8_t *)buf, len, m, true);
}

int usv_chain_read_in(const struct usv_chain *c, uint32_t off, void *buf,
		      uint32_t len, const struct usv_guestmem *m)
{
	return chain_copy(c, c->nout, c->nin, off, buf, len, m, false);
}

int usv_vringh_log_write(struct usv_vringh *vr, uint64_t gpa, uint64_t len)
{
	uint64_t first, last, lo, hi;
	uint8_t bytes[64];
	int ret = 0;

	if (!len || !vr->log.base)
		return 0;
	first = gpa / USV_VHOST_PAGE_SIZE;
	last = (gpa + len - 1) / USV_VHOST_PAGE_SIZE;
	if (gpa + len - 1 < gpa)
		return -EFAULT;
	pthread_mutex_lock(vr->log.lock);
	/* QEMU harvests the bitmap with atomic exchanges: our read-modify-write
	 * may re-set a bit it just took (an over-report), never lose one. */
	for (lo = first / 8; lo <= last / 8 && !ret; lo = hi + 1) {
		hi = lo + sizeof(bytes) - 1 < last / 8 ? lo + sizeof(bytes) - 1 : last / 8;
		if (vr->log.base + lo < vr->log.base ||
		    usv_procmem_read(vr->log.memfd, vr->log.base + lo, bytes, hi - lo + 1)) {
			ret = -EFAULT;
			break;
		}
		for (uint64_t p = (lo * 8 > first ? lo * 8 : first);
		     p <= last && p / 8 <= hi; p++)
			bytes[p / 8 - lo] |= (uint8_t)(1u << (p % 8));
		if (usv_procmem_write(vr->log.memfd, vr->log.base + lo, bytes, hi - lo + 1))
			ret = -EFAULT;
	}
	pthread_mutex_unlock(vr->log.lock);
	/* The log eventfd is the datapath's to signal, never blocking. */
	if (!ret)
		vr->log.written = true;
	return ret;
}

int usv_vringh_log_chain(struct usv_vringh *vr, const struct usv_chain *c, uint32_t len)
{
	if (!vr->log_all)
		return 0;
	for (unsigned i = c->nout; i < c->nout + c->nin && len; i++) {
		uint32_t n = c->seg[i].len < len ? c->seg[i].len : len;
		int ret;

		/* Outside guest RAM (an IOTLB piece): no page to log. */
		if (c->seg[i].no_gpa)
			return -EFAULT;
		ret = usv_vringh_log_write(vr, c->seg[i].gpa, n);
		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}
