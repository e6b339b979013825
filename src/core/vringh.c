/* SPDX-License-Identifier: MIT */
#include "usvhost/vringh.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/caller.h"
#include "core/guestmem.h"
#include "core/iotlb.h"
#include "core/vringh_internal.h"
#include "usvhost/vhost_abi.h"

/* Split ring layout (virtio 1.x 2.7): offsets from each part's start. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define USED_ELEM 8

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

int usv_vringh_fail(struct usv_vringh *vr, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vr->err, sizeof(vr->err), fmt, ap);
	va_end(ap);
	return err;
}

static uint64_t avail_size(const struct usv_vringh *vr)
{
	return AVAIL_RING + 2ULL * vr->num + (vr->event_idx ? 2 : 0);
}

static uint64_t used_size(const struct usv_vringh *vr)
{
	return USED_RING + (uint64_t)USED_ELEM * vr->num + (vr->event_idx ? 2 : 0);
}

void usv_vringh_remap(struct usv_vringh *vr, const struct usv_guestmem *mem)
{
	vr->mem = mem;
	vr->heads_n = 0; /* the ring may be elsewhere now */
	if (vr->iotlb) {
		/* IOVAs: our pointers come from the next prefetch. */
		vr->ldesc = vr->lavail = vr->lused = NULL;
		vr->meta_ok = false;
		return;
	}
	if (vr->packed) {
		usv_vringh_packed_remap(vr);
		return;
	}
	vr->ldesc = usv_uva_local(mem, vr->desc, (size_t)USV_VRING_DESC_SIZE * vr->num);
	vr->lavail = usv_uva_local(mem, vr->avail, avail_size(vr));
	vr->lused = usv_uva_local(mem, vr->used, used_size(vr));
}

void usv_vringh_set_iotlb(struct usv_vringh *vr, const struct usv_iotlb *iotlb)
{
	vr->iotlb = iotlb;
	vr->miss = false;
	usv_vringh_remap(vr, vr->mem);
}

static int miss(struct usv_vringh *vr, uint64_t iova, unsigned access)
{
	vr->miss = true;
	vr->miss_iova = iova;
	vr->miss_access = (uint8_t)access;
	return USV_VRING_MISS;
}

/* IOVA range [iova, iova+len) mapped with access all along? 0, -EPERM, or
 * USV_VRING_MISS with the first unmapped address. */
static int iova_check(struct usv_vringh *vr, uint64_t iova, uint64_t len, unsigned access)
{
	uint64_t last = iova + len - 1, addr = iova;

	if (!len)
		return 0;
	for (;;) {
		const struct usv_iotlb_map *m = usv_iotlb_first(vr->iotlb, addr, last);

		if (!m || m->start > addr)
			return miss(vr, addr, access);
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

	return n == -EAGAIN ? miss(vr, at, access) : n;
}

/* A ring access not mapped here: QEMU's address space, through the IOTLB
 * when there is one (vhost_copy_{to,from}_user, __vhost_get_user). */
static int ring_io(struct usv_vringh *vr, uint64_t base, uint64_t off, void *buf,
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

/* One ring part through the IOTLB: all mapped with access, and our pointer
 * when it is one range of QEMU's that we map (NULL: access by access). */
static int prefetch_part(struct usv_vringh *vr, uint64_t iova, uint64_t len, unsigned access,
			 uint8_t **local, uint64_t *uva)
{
	struct usv_iotlb_seg seg[1];
	int ret = iova_check(vr, iova, len, access);

	*local = NULL;
	if (ret)
		return ret;
	if (iova_pieces(vr, iova, len, access, seg, 1) == 1) {
		*uva = seg[0].addr;
		*local = usv_uva_local(vr->mem, seg[0].addr, len);
	}
	return 0;
}

int usv_vringh_prefetch(struct usv_vringh *vr)
{
	uint64_t uva = 0;
	const struct usv_mem_region *r;

	if (!vr->iotlb || vr->meta_ok)
		return 0;
	vr->miss = false;
	vr->heads_n = 0;
	/* A part lacking the access is not asked for (iotlb_access_ok()):
	 * the ring just waits, as the kernel's. */
	if (prefetch_part(vr, vr->desc, (uint64_t)USV_VRING_DESC_SIZE * vr->num, USV_IOTLB_RO,
			  &vr->ldesc, &uva) ||
	    prefetch_part(vr, vr->avail, avail_size(vr), USV_IOTLB_RO, &vr->lavail, &uva))
		return USV_VRING_MISS;
	uva = UINT64_MAX;
	if (prefetch_part(vr, vr->used, used_size(vr), USV_IOTLB_WO, &vr->lused, &uva))
		return USV_VRING_MISS;
	/* The log takes guest addresses: the used ring's, through QEMU's
	 * address (log_used() of the kernel translates it the same way). */
	r = uva != UINT64_MAX ? usv_guestmem_find_uva(vr->mem, uva) : NULL;
	vr->used_gpa = r ? r->gpa + (uva - r->uaddr) : vr->log_addr;
	vr->meta_ok = true;
	return 0;
}

void usv_vringh_setup(struct usv_vringh *vr, const struct usv_guestmem *mem,
		      uint32_t num, uint64_t desc, uint64_t avail, uint64_t used,
		     uint64_t features)
{
	vr->num = num;
	vr->desc = desc;
	vr->avail = avail;
	vr->used = used;
	vr->event_idx = features & USV_BIT(USV_F_RING_EVENT_IDX);
	vr->indirect = features & USV_BIT(USV_F_RING_INDIRECT_DESC);
	vr->notify_on_empty = features & USV_BIT(USV_F_NOTIFY_ON_EMPTY);
	vr->log_all = features & USV_BIT(USV_F_LOG_ALL);
	vr->packed = features & USV_BIT(USV_F_RING_PACKED);
	vr->signalled_used_valid = false;
	/* The packed ring's chains in flight stay: QEMU changes features on
	 * a running ring (LOG_ALL for migration); a ring starts zeroed. */
	usv_vringh_remap(vr, mem);
}

/* Ring accesses: ours when mapped, else QEMU's address space. Indexes are
 * 16-bit and naturally aligned (the control plane checked alignment). */
static int get16(struct usv_vringh *vr, uint8_t *local, uint64_t uva, uint64_t off,
		 uint16_t *v)
{
	if (local) {
		*v = __atomic_load_n((uint16_t *)(local + off), __ATOMIC_ACQUIRE);
		return 0;
	}
	return ring_io(vr, uva, off, v, sizeof(*v), false);
}

static int put16(struct usv_vringh *vr, uint8_t *local, uint64_t uva, uint64_t off,
		 uint16_t v)
{
	if (local) {
		__atomic_store_n((uint16_t *)(local + off), v, __ATOMIC_RELEASE);
		return 0;
	}
	return ring_io(vr, uva, off, &v, sizeof(v), true);
}

static int log_used(struct usv_vringh *vr, uint64_t off, uint64_t len)
{
	if (!vr->log_used)
		return 0;
	return usv_vringh_log_write(vr, (vr->iotlb ? vr->used_gpa : vr->log_addr) + off, len);
}

int usv_vringh_write_used_flags(struct usv_vringh *vr)
{
	if (vr->packed)
		return usv_vringh_packed_write_event(vr);
	if (put16(vr, vr->lused, vr->used, USED_FLAGS, vr->used_flags))
		return -EFAULT;
	return log_used(vr, USED_FLAGS, 2);
}

static int refresh_avail(struct usv_vringh *vr)
{
	uint16_t idx;

	if (get16(vr, vr->lavail, vr->avail, AVAIL_IDX, &idx))
		return usv_vringh_fail(vr, -EFAULT, "failed to access avail idx at 0x%llx",
				(unsigned long long)vr->avail + AVAIL_IDX);
	if ((uint16_t)(idx - vr->last_avail_idx) > vr->num)
		return usv_vringh_fail(vr, -EFAULT, "guest moved avail index from %u to %u",
				vr->last_avail_idx, idx);
	vr->avail_idx = idx;
	return 0;
}

bool usv_vringh_has_avail(struct usv_vringh *vr)
{
	if (vr->packed)
		return usv_vringh_packed_has_avail(vr);
	if (vr->avail_idx != vr->last_avail_idx)
		return true;
	return refresh_avail(vr) == 0 && vr->avail_idx != vr->last_avail_idx;
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
		uint64_t gpa = UINT64_MAX;

		if (c->nout + c->nin == c->max_segs)
			return -ENOBUFS;
		m = usv_iotlb_first(vr->iotlb, addr, last);
		if (!m || m->start > addr)
			return miss(vr, addr, access);
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
			.local = local, .uva = uva, .gpa = gpa, .len = (uint32_t)n,
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

static int add_desc(struct usv_vringh *vr, struct usv_chain *c, const struct vdesc *d,
		    const char *where, unsigned i)
{
	return usv_vringh_add_buf(vr, c, d->addr, d->len, d->flags & USV_VRING_DESC_F_WRITE,
				  where, i);
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

static int read_desc(struct usv_vringh *vr, struct usv_chain *c, unsigned i, struct vdesc *d)
{
	c->ndesc++;
	if (vr->ldesc) {
		memcpy(d, vr->ldesc + (size_t)i * USV_VRING_DESC_SIZE, sizeof(*d));
		return 0;
	}
	return ring_io(vr, vr->desc, (uint64_t)i * USV_VRING_DESC_SIZE, d, sizeof(*d), false);
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

/* Indirect entries are read this many at a time into a local copy: one read
 * per 16 entries rather than per entry when the table is not mapped here. */
#define IND_BULK 16

/* get_indirect(): the table is read in order; NEXT only says "more". */
static int walk_indirect(struct usv_vringh *vr, struct usv_chain *c, const struct vdesc *ind,
			 unsigned ptrs)
{
	uint64_t count = ind->len / USV_VRING_DESC_SIZE;
	struct vdesc tbl[IND_BULK], d;
	unsigned found = 0, base = 0, have = 0; /* tbl holds entries [base, have) */
	int ret;

	if (ind->len % USV_VRING_DESC_SIZE)
		return usv_vringh_fail(vr, -EINVAL, "invalid length in indirect descriptor: "
				"len 0x%x not a multiple of 16", ind->len);
	/* The whole table must be guest memory before any entry is read. */
	if (vr->iotlb) {
		ret = iova_check(vr, ind->addr, ind->len, USV_IOTLB_RO);
		if (ret == USV_VRING_MISS)
			return ret;
		if (ret)
			return usv_vringh_fail(vr, -EFAULT, "translation failure %d in indirect "
					       "(addr 0x%llx len %u)", ret,
					       (unsigned long long)ind->addr, ind->len);
	} else if (!usv_vringh_table_ok(vr, ind->addr, ind->len)) {
		return usv_vringh_fail(vr, -EFAULT, "translation failure %d in indirect "
				       "(addr 0x%llx len %u)", -EFAULT,
				       (unsigned long long)ind->addr, ind->len);
	}
	if (count > 0x10000)
		return usv_vringh_fail(vr, -E2BIG, "indirect buffer length too big: %u", ind->len);
	do {
		uint64_t gpa = ind->addr + (uint64_t)found * USV_VRING_DESC_SIZE;

		if (++found > count)
			return usv_vringh_fail(vr, -EINVAL, "loop detected: last one at %u "
					"indirect size %llu", found - 1,
					(unsigned long long)count);
		if (found > have) {
			/* The next entries, in one read; each is still copied
			 * once and checked from the copy. */
			unsigned n = count - (found - 1) < IND_BULK ?
					     (unsigned)(count - (found - 1)) : IND_BULK;

			if (gpa < ind->addr ||
			    (vr->iotlb ? ring_io(vr, gpa, 0, tbl, n * sizeof(tbl[0]), false)
				       : usv_gpa_read(vr->mem, gpa, tbl, n * sizeof(tbl[0]))))
				return usv_vringh_fail(vr, -EINVAL, "failed indirect descriptor: "
						"idx %u, 0x%llx", found - 1,
						(unsigned long long)gpa);
			base = found - 1;
			have = base + n;
		}
		d = tbl[found - 1 - base];
		c->ndesc++;
		if (d.flags & USV_VRING_DESC_F_INDIRECT)
			return usv_vringh_fail(vr, -EINVAL, "nested indirect descriptor: idx %u",
					found - 1);
		ret = add_desc(vr, c, &d, "indirect ", found - 1);
		if (!ret)
			ret = usv_vringh_charge(vr, c, ptrs);
		if (ret)
			return ret;
	} while (d.flags & USV_VRING_DESC_F_NEXT);
	return 0;
}

/* The head of avail entry idx, which the guest made available. Not mapped
 * here: from the entries read in bulk, refilled with those up to avail_idx
 * (at most to the ring's end) in one read. */
static int avail_head(struct usv_vringh *vr, uint16_t idx, uint16_t *head)
{
	unsigned slot, n;

	if (vr->lavail)
		return get16(vr, vr->lavail, vr->avail, AVAIL_RING + 2ULL * (idx & (vr->num - 1)),
			     head);
	if ((uint16_t)(idx - vr->heads_idx) < vr->heads_n) {
		*head = vr->heads[(uint16_t)(idx - vr->heads_idx)];
		return 0;
	}
	slot = idx & (vr->num - 1);
	n = (uint16_t)(vr->avail_idx - idx);
	if (n > vr->num - slot)
		n = vr->num - slot;
	if (n > USV_VRING_AVAIL_BULK)
		n = USV_VRING_AVAIL_BULK;
	if (!n)
		n = 1;
	vr->heads_n = 0;
	if (ring_io(vr, vr->avail, AVAIL_RING + 2ULL * slot, vr->heads, 2ULL * n, false))
		return -EFAULT;
	vr->heads_idx = idx;
	vr->heads_n = (uint16_t)n;
	*head = vr->heads[0];
	return 0;
}

int usv_vringh_pop(struct usv_vringh *vr, struct usv_chain *c)
{
	uint16_t head;
	unsigned i, found = 0, ptrs = 0; /* ptrs: indirect descriptors read */
	struct vdesc d;
	int ret;

	if (vr->packed)
		return usv_vringh_packed_pop(vr, c);
	c->ndesc = 0;
	if (vr->avail_idx == vr->last_avail_idx) {
		ret = refresh_avail(vr);
		if (ret)
			return ret;
		if (vr->avail_idx == vr->last_avail_idx)
			return -EAGAIN;
	}
	if (avail_head(vr, vr->last_avail_idx, &head))
		return usv_vringh_fail(vr, -EFAULT, "failed to read avail ring entry %u",
				vr->last_avail_idx);
	if (head >= vr->num) {
		vr->heads_n = 0; /* a ring restarted here reads the entry again */
		return usv_vringh_fail(vr, -EINVAL, "guest says index %u > %u is available",
				head, vr->num);
	}
	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	i = head;
	do {
		if (i >= vr->num)
			return usv_vringh_fail(vr, -EINVAL, "desc index is %u > %u, head = %u",
					i, vr->num, head);
		if (++found > vr->num)
			return usv_vringh_fail(vr, -EINVAL, "loop detected: last one at %u vq "
					"size %u head %u", i, vr->num, head);
		if (read_desc(vr, c, i, &d))
			return usv_vringh_fail(vr, -EFAULT, "failed to get descriptor: idx %u", i);
		if (d.flags & USV_VRING_DESC_F_INDIRECT) {
			ret = walk_indirect(vr, c, &d, ++ptrs);
		} else {
			ret = add_desc(vr, c, &d, "", i);
			if (!ret)
				ret = usv_vringh_charge(vr, c, ptrs);
		}
		if (ret)
			return ret;
		i = d.next;
	} while (d.flags & USV_VRING_DESC_F_NEXT);
	vr->last_avail_idx++;
	return 0;
}

void usv_vringh_unpop(struct usv_vringh *vr, unsigned n)
{
	if (vr->packed) {
		usv_vringh_packed_unpop(vr, n);
		return;
	}
	vr->last_avail_idx -= (uint16_t)n;
}

static int write_used_elems(struct usv_vringh *vr, uint16_t start, const uint32_t *heads,
			    const uint32_t *lens, unsigned n)
{
	unsigned slot = start & (vr->num - 1);
	uint64_t off = USED_RING + (uint64_t)slot * USED_ELEM;
	uint32_t elem[2 * 64];

	for (unsigned i = 0; i < n; i++) {
		elem[2 * i] = heads[i];
		elem[2 * i + 1] = lens[i];
	}
	if (vr->lused)
		memcpy(vr->lused + off, elem, (size_t)n * USED_ELEM);
	else if (ring_io(vr, vr->used, off, elem, (size_t)n * USED_ELEM, true))
		return -EFAULT;
	return log_used(vr, off, (uint64_t)n * USED_ELEM);
}

int usv_vringh_push(struct usv_vringh *vr, const uint32_t *heads, const uint32_t *lens,
		    unsigned n)
{
	uint16_t old = vr->last_used_idx, new;
	unsigned done = 0;

	if (vr->packed)
		return usv_vringh_packed_push(vr, heads, lens, n);
	while (done < n) {
		uint16_t at = (uint16_t)(old + done);
		unsigned slot = at & (vr->num - 1);
		unsigned k = n - done;

		/* Up to the ring's end, at most 64 at a time. */
		if (k > vr->num - slot)
			k = vr->num - slot;
		if (k > 64)
			k = 64;
		if (write_used_elems(vr, at, heads + done, lens + done, k))
			return usv_vringh_fail(vr, -EFAULT, "failed to write used ring entry %u", at);
		done += k;
	}
	new = (uint16_t)(old + n);
	/* The entries must be visible before the index (put16 releases). */
	if (put16(vr, vr->lused, vr->used, USED_IDX, new))
		return usv_vringh_fail(vr, -EFAULT, "failed to increment used idx");
	if (log_used(vr, USED_IDX, 2))
		return usv_vringh_fail(vr, -EFAULT, "failed to log used idx");
	vr->last_used_idx = new;
	/* A guest that never signals for 2^16 entries: forget what we sent. */
	if ((uint16_t)(new - vr->signalled_used) < (uint16_t)(new - old))
		vr->signalled_used_valid = false;
	return 0;
}

bool usv_vringh_need_signal(struct usv_vringh *vr)
{
	uint16_t old, new, event, flags;
	bool valid;

	if (vr->packed)
		return usv_vringh_packed_need_signal(vr);
	/* Pairs with the guest's barrier when it enables interrupts. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vr->notify_on_empty && vr->avail_idx == vr->last_avail_idx)
		return true;
	if (!vr->event_idx) {
		if (get16(vr, vr->lavail, vr->avail, AVAIL_FLAGS, &flags))
			return true;
		return !(flags & USV_VRING_AVAIL_F_NO_INTERRUPT);
	}
	old = vr->signalled_used;
	valid = vr->signalled_used_valid;
	new = vr->signalled_used = vr->last_used_idx;
	vr->signalled_used_valid = true;
	if (!valid)
		return true;
	if (get16(vr, vr->lavail, vr->avail, AVAIL_RING + 2ULL * vr->num, &event))
		return true;
	/* vring_need_event(): did new pass the guest's used_event? */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

bool usv_vringh_enable_notify(struct usv_vringh *vr)
{
	uint16_t idx;

	if (vr->packed)
		return usv_vringh_packed_enable_notify(vr);
	if (!(vr->used_flags & USV_VRING_USED_F_NO_NOTIFY))
		return false;
	vr->used_flags &= (uint16_t)~USV_VRING_USED_F_NO_NOTIFY;
	if (!vr->event_idx) {
		if (usv_vringh_write_used_flags(vr))
			return false;
	} else {
		uint64_t off = USED_RING + (uint64_t)USED_ELEM * vr->num;

		if (put16(vr, vr->lused, vr->used, off, vr->avail_idx) ||
		    log_used(vr, off, 2))
			return false;
	}
	/* They could have slipped one in as we were doing that. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (get16(vr, vr->lavail, vr->avail, AVAIL_IDX, &idx))
		return false;
	return idx != vr->avail_idx;
}

void usv_vringh_disable_notify(struct usv_vringh *vr)
{
	if (vr->packed) {
		usv_vringh_packed_disable_notify(vr);
		return;
	}
	if (vr->used_flags & USV_VRING_USED_F_NO_NOTIFY)
		return;
	vr->used_flags |= USV_VRING_USED_F_NO_NOTIFY;
	if (!vr->event_idx)
		usv_vringh_write_used_flags(vr);
}

/* One guest word for usv_vringh_describe(): its value, or "?" if unreadable. */
static const char *word(struct usv_vringh *vr, uint8_t *local, uint64_t uva, uint64_t off,
			char *buf, size_t n)
{
	uint16_t v;

	if (get16(vr, local, uva, off, &v))
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, "%u", v);
	return buf;
}

void usv_vringh_describe(struct usv_vringh *vr, char *buf, size_t n)
{
	char a[8], u[8], ev[8], f[8];

	if (vr->packed) {
		usv_vringh_packed_describe(vr, buf, n);
		return;
	}
	if (vr->event_idx) {
		snprintf(buf, n, "last_avail_idx=%u avail.idx=%s avail_event=%s last_used_idx=%u "
			 "used.idx=%s used_event=%s signalled_used=%u%s used_flags=0x%x",
			 vr->last_avail_idx, word(vr, vr->lavail, vr->avail, AVAIL_IDX, a, 8),
			 word(vr, vr->lused, vr->used, USED_RING + (uint64_t)USED_ELEM * vr->num,
			      ev, 8),
			 vr->last_used_idx, word(vr, vr->lused, vr->used, USED_IDX, u, 8),
			 word(vr, vr->lavail, vr->avail, AVAIL_RING + 2ULL * vr->num, f, 8),
			 vr->signalled_used, vr->signalled_used_valid ? "" : " (none yet)",
			 vr->used_flags);
		return;
	}
	snprintf(buf, n, "last_avail_idx=%u avail.idx=%s avail.flags=%s last_used_idx=%u "
		 "used.idx=%s used_flags=0x%x", vr->last_avail_idx,
		 word(vr, vr->lavail, vr->avail, AVAIL_IDX, a, 8),
		 word(vr, vr->lavail, vr->avail, AVAIL_FLAGS, f, 8), vr->last_used_idx,
		 word(vr, vr->lused, vr->used, USED_IDX, u, 8), vr->used_flags);
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
		if (c->seg[i].gpa == UINT64_MAX)
			return -EFAULT;
		ret = usv_vringh_log_write(vr, c->seg[i].gpa, n);
		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}
