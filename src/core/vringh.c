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
	vr->desc_snap_valid = false;
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
	if (vr->packed)
		return usv_vringh_packed_prefetch(vr);
	if (usv_vringh_prefetch_part(vr, vr->desc, (uint64_t)USV_VRING_DESC_SIZE * vr->num,
				     USV_IOTLB_RO, &vr->ldesc, &uva) ||
	    usv_vringh_prefetch_part(vr, vr->avail, avail_size(vr), USV_IOTLB_RO, &vr->lavail,
				     &uva))
		return USV_VRING_MISS;
	uva = UINT64_MAX;
	if (usv_vringh_prefetch_part(vr, vr->used, used_size(vr), USV_IOTLB_WO, &vr->lused,
				     &uva))
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
	return usv_vringh_ring_io(vr, uva, off, v, sizeof(*v), false);
}

static int put16(struct usv_vringh *vr, uint8_t *local, uint64_t uva, uint64_t off,
		 uint16_t v)
{
	if (local) {
		__atomic_store_n((uint16_t *)(local + off), v, __ATOMIC_RELEASE);
		return 0;
	}
	return usv_vringh_ring_io(vr, uva, off, &v, sizeof(v), true);
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

static int add_desc(struct usv_vringh *vr, struct usv_chain *c, const struct vdesc *d,
		    const char *where, unsigned i)
{
	return usv_vringh_add_buf(vr, c, d->addr, d->len, d->flags & USV_VRING_DESC_F_WRITE,
				  where, i);
}

/* A snapshot of the descriptor table that holds the chain at
 * last_avail_idx: the one kept, or a new one. false: read one by one. */
static bool desc_snapshot(struct usv_vringh *vr)
{
	uint64_t len = (uint64_t)USV_VRING_DESC_SIZE * vr->num;
	uint16_t ahead = (uint16_t)(vr->desc_snap_for - vr->last_avail_idx);

	/* Through an IOTLB too: the prefetch found the whole table readable,
	 * and any IOTLB change drops the snapshot (usv_vringh_remap). */
	if (!vr->desc_snap || vr->num > USV_VRING_SNAP_MAX_NUM || len > vr->desc_snap_cap)
		return false;
	if (vr->desc_snap_valid && ahead >= 1 && ahead <= vr->num)
		return true;
	if ((uint16_t)(vr->avail_idx - vr->last_avail_idx) < USV_VRING_SNAP_MIN_CHAINS)
		return false;
	/* avail_idx was read before this: every chain up to it is in. */
	vr->desc_snap_valid =
		usv_vringh_ring_io(vr, vr->desc, 0, vr->desc_snap, len, false) == 0;
	vr->desc_snap_for = vr->avail_idx;
	return vr->desc_snap_valid;
}

static int read_desc(struct usv_vringh *vr, struct usv_chain *c, unsigned i, struct vdesc *d)
{
	c->ndesc++;
	if (vr->ldesc) {
		memcpy(d, vr->ldesc + (size_t)i * USV_VRING_DESC_SIZE, sizeof(*d));
		return 0;
	}
	if (desc_snapshot(vr)) {
		memcpy(d, vr->desc_snap + (size_t)i * USV_VRING_DESC_SIZE, sizeof(*d));
		return 0;
	}
	return usv_vringh_ring_io(vr, vr->desc, (uint64_t)i * USV_VRING_DESC_SIZE, d,
				  sizeof(*d), false);
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
		ret = usv_vringh_iova_check(vr, ind->addr, ind->len, USV_IOTLB_RO);
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
			    (vr->iotlb ? usv_vringh_ring_io(vr, gpa, 0, tbl, n * sizeof(tbl[0]),
							    false)
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
	if (usv_vringh_ring_io(vr, vr->avail, AVAIL_RING + 2ULL * slot, vr->heads, 2ULL * n, false))
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
	else if (usv_vringh_ring_io(vr, vr->used, off, elem, (size_t)n * USED_ELEM, true))
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
