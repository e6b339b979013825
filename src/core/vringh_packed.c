/* SPDX-License-Identifier: MIT */
/*
 * The host side of a packed virtqueue (virtio 1.1+, 2.8) behind the
 * usv_vringh_* calls: one descriptor ring that the driver fills with
 * available descriptors (AVAIL == its wrap counter, USED != it) and the
 * device overwrites in place with used elements (AVAIL == USED == the
 * device's wrap counter), chains of consecutive slots with F_NEXT, indirect
 * tables, and the two event suppression structures (ENABLE / DISABLE /
 * DESC, the last with EVENT_IDX).
 *
 * The split ring's guarantees hold: the head's flags are read once (with
 * acquire, as the driver publishes them last) and every descriptor is then
 * copied once and checked from the copy; a chain is bounded by the ring
 * (slots) and by max(num, 1024) descriptor reads (c->ndesc); buffer IDs and
 * positions are checked against the ring size; every buffer goes through
 * the memory table. The guest may lie about anything and breaks only its
 * own ring (vr->err, -EFAULT / -EINVAL).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/guestmem.h"
#include "core/iotlb.h"
#include "core/vringh_internal.h"
#include "usvhost/vhost_abi.h"

/* struct pvirtq_desc: offsets in one 16-byte ring entry. */
#define PD_LEN 8
#define PD_ID 12
#define PD_FLAGS 14
#define PD_BODY 14 /* addr, len, id: what follows the head's flags read */

/* struct pvirtq_event_suppress: off_wrap, then flags. */
#define EV_OFF_WRAP 0
#define EV_FLAGS 2
#define EV_SIZE 4

#define F_AVAIL USV_VRING_PACKED_DESC_F_AVAIL
#define F_USED USV_VRING_PACKED_DESC_F_USED
#define WRAP USV_VRING_PACKED_WRAP

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

_Static_assert(sizeof(struct pdesc) == USV_VRING_DESC_SIZE, "packed descriptor layout");

static unsigned slot_of(uint16_t pos)
{
	return pos & (WRAP - 1);
}

static bool wrap_of(uint16_t pos)
{
	return pos & WRAP;
}

/* pos moved n slots forward (n <= num): the wrap counter flips at the end. */
static uint16_t advance(const struct usv_vringh *vr, uint16_t pos, unsigned n)
{
	unsigned s = slot_of(pos) + n;
	uint16_t w = pos & WRAP;

	if (s >= vr->num) {
		s -= vr->num;
		w ^= WRAP;
	}
	return (uint16_t)(s | w);
}

static uint16_t retreat(const struct usv_vringh *vr, uint16_t pos, unsigned n)
{
	unsigned s = slot_of(pos);
	uint16_t w = pos & WRAP;

	if (s < n) {
		s += vr->num;
		w ^= WRAP;
	}
	return (uint16_t)((s - n) | w);
}

/* A position on the circle of 2 * num (slot, lap parity), for distances. */
static uint32_t lin(const struct usv_vringh *vr, uint16_t pos)
{
	return (slot_of(pos) + (wrap_of(pos) ? vr->num : 0)) % (2 * vr->num);
}

/* Does the descriptor say it is available in the lap of wrap counter w? */
static bool is_avail(uint16_t flags, bool w)
{
	return !!(flags & F_AVAIL) == w && !!(flags & F_USED) != w;
}

void usv_vringh_packed_remap(struct usv_vringh *vr)
{
	vr->ldesc = usv_uva_local(vr->mem, vr->desc, (size_t)USV_VRING_DESC_SIZE * vr->num);
	/* The event structures are read and written as one 32-bit word. */
	vr->lavail = vr->avail % EV_SIZE ? NULL : usv_uva_local(vr->mem, vr->avail, EV_SIZE);
	vr->lused = vr->used % EV_SIZE ? NULL : usv_uva_local(vr->mem, vr->used, EV_SIZE);
	vr->heads_n = 0;
}

/* An event structure's pointer, when it may be read or written as one
 * aligned 32-bit word. */
static uint8_t *event_local(uint8_t *local)
{
	return (uintptr_t)local % EV_SIZE ? NULL : local;
}

int usv_vringh_packed_prefetch(struct usv_vringh *vr)
{
	uint64_t len = (uint64_t)USV_VRING_DESC_SIZE * vr->num, uva;
	uint8_t *ldesc, *l;

	/* The descriptor ring is read and written (used elements go there),
	 * the driver's event structure read, the device's written. A part
	 * lacking an access waits for it, as the split ring's. */
	if (usv_vringh_prefetch_part(vr, vr->desc, len, USV_IOTLB_RO, &ldesc, &uva) ||
	    usv_vringh_prefetch_part(vr, vr->desc, len, USV_IOTLB_WO, &l, &uva) ||
	    usv_vringh_prefetch_part(vr, vr->avail, EV_SIZE, USV_IOTLB_RO, &vr->lavail, &uva) ||
	    usv_vringh_prefetch_part(vr, vr->used, EV_SIZE, USV_IOTLB_WO, &vr->lused, &uva)) {
		vr->ldesc = vr->lavail = vr->lused = NULL;
		return USV_VRING_MISS;
	}
	vr->ldesc = ldesc;
	vr->lavail = event_local(vr->lavail);
	vr->lused = event_local(vr->lused);
	vr->meta_ok = true;
	return 0;
}

/* The flags of ring slot s, with acquire: what they publish is read after. */
static int head_flags(struct usv_vringh *vr, unsigned s, uint16_t *flags)
{
	uint64_t off = (uint64_t)s * USV_VRING_DESC_SIZE + PD_FLAGS;

	if (vr->ldesc) {
		*flags = __atomic_load_n((uint16_t *)(vr->ldesc + off), __ATOMIC_ACQUIRE);
		return 0;
	}
	return usv_vringh_ring_io(vr, vr->desc, off, flags, sizeof(*flags), false);
}

/* Copies the first len bytes of ring slot s into d, once. */
static int read_slot(struct usv_vringh *vr, unsigned s, struct pdesc *d, size_t len)
{
	uint64_t off = (uint64_t)s * USV_VRING_DESC_SIZE;

	if (vr->ldesc) {
		memcpy(d, vr->ldesc + off, len);
		return 0;
	}
	return usv_vringh_ring_io(vr, vr->desc, off, d, len, false);
}

/* The owner's address of the ring's byte off, as a guest address: used
 * elements are written in the descriptor ring, whose guest address vhost
 * is never told (VHOST_SET_VRING_ADDR carries the device area's). */
static int desc_gpa(const struct usv_vringh *vr, uint64_t off, uint64_t len, uint64_t *gpa)
{
	uint64_t uva = vr->desc + off;

	for (uint32_t i = 0; i < vr->mem->nregions; i++) {
		const struct usv_mem_region *r = &vr->mem->regions[i];

		if (uva >= r->uaddr && uva - r->uaddr <= r->last - r->gpa &&
		    len - 1 <= r->last - r->gpa - (uva - r->uaddr)) {
			*gpa = r->gpa + (uva - r->uaddr);
			return 0;
		}
	}
	return -EFAULT;
}

static int log_desc(struct usv_vringh *vr, uint64_t off, uint64_t len)
{
	uint64_t gpa;

	if (!vr->log_used)
		return 0;
	if (vr->iotlb)
		return usv_vringh_log_iova(vr, vr->desc + off, len);
	if (desc_gpa(vr, off, len, &gpa))
		return -EFAULT;
	return usv_vringh_log_write(vr, gpa, len);
}

/* Packed indirect table: len / 16 entries, all of them, in order (F_NEXT
 * means nothing there); no entry may be indirect. */
#define IND_BULK 16

static int walk_indirect(struct usv_vringh *vr, struct usv_chain *c, const struct pdesc *ind,
			 unsigned ptrs)
{
	uint64_t count = ind->len / USV_VRING_DESC_SIZE;
	struct pdesc tbl[IND_BULK], d;
	int ret;

	if (!ind->len || ind->len % USV_VRING_DESC_SIZE)
		return usv_vringh_fail(vr, -EINVAL, "invalid length in indirect descriptor: "
				       "len 0x%x not a multiple of 16", ind->len);
	/* The whole table must be guest memory (or mapped readable through
	 * the IOTLB: a miss waits for its UPDATE) before any entry is read. */
	ret = vr->iotlb ? usv_vringh_iova_check(vr, ind->addr, ind->len, USV_IOTLB_RO)
			: usv_vringh_table_ok(vr, ind->addr, ind->len) ? 0 : -EFAULT;
	if (ret == USV_VRING_MISS)
		return ret;
	if (ret)
		return usv_vringh_fail(vr, -EFAULT, "translation failure %d in indirect "
				       "(addr 0x%llx len %u)", ret,
				       (unsigned long long)ind->addr, ind->len);
	if (count > 0x10000)
		return usv_vringh_fail(vr, -E2BIG, "indirect buffer length too big: %u",
				       ind->len);
	for (uint64_t i = 0; i < count; i++) {
		if (i % IND_BULK == 0) {
			uint64_t gpa = ind->addr + i * USV_VRING_DESC_SIZE;
			uint64_t n = count - i < IND_BULK ? count - i : IND_BULK;

			if (gpa < ind->addr ||
			    (vr->iotlb ? usv_vringh_ring_io(vr, gpa, 0, tbl, n * sizeof(tbl[0]),
							    false)
				       : usv_gpa_read(vr->mem, gpa, tbl, n * sizeof(tbl[0]))))
				return usv_vringh_fail(vr, -EINVAL, "failed indirect descriptor: "
						       "idx %u, 0x%llx", (unsigned)i,
						       (unsigned long long)gpa);
		}
		d = tbl[i % IND_BULK];
		c->ndesc++;
		if (d.flags & USV_VRING_DESC_F_INDIRECT)
			return usv_vringh_fail(vr, -EINVAL, "nested indirect descriptor: idx %u",
					       (unsigned)i);
		ret = usv_vringh_add_buf(vr, c, d.addr, d.len, d.flags & USV_VRING_DESC_F_WRITE,
					 "indirect ", (unsigned)i);
		if (!ret)
			ret = usv_vringh_charge(vr, c, ptrs);
		if (ret)
			return ret;
	}
	return 0;
}

/* avail_idx is the first position we have not seen available (chains
 * given back stay seen): where enable_notify looks for new buffers, as the
 * split ring compares with the avail index it cached. Moved past a chain
 * just taken at pos when that chain reaches it. */
static void seen(struct usv_vringh *vr, uint16_t pos, unsigned found)
{
	uint32_t m = 2 * vr->num;
	uint32_t ahead = (lin(vr, vr->avail_idx) + m - lin(vr, pos)) % m;

	if (ahead < found || ahead > vr->num)
		vr->avail_idx = vr->last_avail_idx;
}

int usv_vringh_packed_pop(struct usv_vringh *vr, struct usv_chain *c)
{
	uint16_t pos = vr->last_avail_idx, flags;
	unsigned s = slot_of(pos), found = 0, ptrs = 0;
	struct pdesc d;
	int ret;

	c->ndesc = 0;
	if (s >= vr->num)
		return usv_vringh_fail(vr, -EINVAL, "avail position %u is beyond ring size %u",
				       s, vr->num);
	if (head_flags(vr, s, &flags))
		return usv_vringh_fail(vr, -EFAULT, "failed to read descriptor flags: idx %u", s);
	if (!is_avail(flags, wrap_of(pos))) {
		/* Nothing here: chains seen beyond, given back and then taken
		 * back by the driver, are not seen any more, or enable_notify
		 * would keep finding buffers that pop never reaches. */
		vr->avail_idx = pos;
		return -EAGAIN;
	}
	if (vr->inflight_n == USV_VRING_PACKED_INFLIGHT)
		return usv_vringh_fail(vr, -ENOBUFS, "%u chains taken and not used",
				       vr->inflight_n);
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	c->head = 0;
	for (;;) {
		if (++found > vr->num)
			return usv_vringh_fail(vr, -EINVAL, "loop detected: chain longer than "
					       "the ring (size %u) from idx %u", vr->num,
					       slot_of(pos));
		c->ndesc++;
		/* The head's flags are the ones read above; the rest of the
		 * chain was written before them. */
		if (found == 1) {
			ret = read_slot(vr, s, &d, PD_BODY);
			d.flags = flags;
		} else {
			ret = read_slot(vr, s, &d, sizeof(d));
		}
		if (ret)
			return usv_vringh_fail(vr, -EFAULT, "failed to get descriptor: idx %u", s);
		if (d.flags & USV_VRING_DESC_F_INDIRECT) {
			if (d.flags & USV_VRING_DESC_F_NEXT)
				return usv_vringh_fail(vr, -EINVAL, "indirect descriptor with "
						       "NEXT: idx %u", s);
			ret = walk_indirect(vr, c, &d, ++ptrs);
		} else {
			ret = usv_vringh_add_buf(vr, c, d.addr, d.len,
						 d.flags & USV_VRING_DESC_F_WRITE, "", s);
			if (!ret)
				ret = usv_vringh_charge(vr, c, ptrs);
		}
		if (ret)
			return ret;
		if (!(d.flags & USV_VRING_DESC_F_NEXT))
			break;
		if (++s == vr->num)
			s = 0;
	}
	/* The buffer ID is the last descriptor's. */
	if (d.id >= vr->num)
		return usv_vringh_fail(vr, -EINVAL, "guest says buffer id %u >= %u", d.id,
				       vr->num);
	/* A driver reuses a slot only once it was used: more slots taken than
	 * the ring holds is a guest rewriting descriptors we still own. */
	if (vr->inflight_slots + found > vr->num)
		return usv_vringh_fail(vr, -EINVAL, "more than %u descriptors in flight at "
				       "idx %u", vr->num, slot_of(pos));
	c->head = d.id;
	vr->inflight[(vr->inflight_head + vr->inflight_n) % USV_VRING_PACKED_INFLIGHT] =
		(uint16_t)found;
	vr->inflight_n++;
	vr->inflight_slots += found;
	vr->last_avail_idx = advance(vr, pos, found);
	seen(vr, pos, found);
	return 0;
}

void usv_vringh_packed_unpop(struct usv_vringh *vr, unsigned n)
{
	while (n-- && vr->inflight_n) {
		unsigned k = --vr->inflight_n;
		uint16_t slots = vr->inflight[(vr->inflight_head + k) % USV_VRING_PACKED_INFLIGHT];

		vr->inflight_slots -= slots;
		vr->last_avail_idx = retreat(vr, vr->last_avail_idx, slots);
	}
}

/* Writes the used element {id, len} at pos: id and len first, the flags
 * (AVAIL and USED both the wrap counter) with release after them. */
static int put_used(struct usv_vringh *vr, uint16_t pos, uint16_t id, uint32_t len)
{
	uint64_t off = (uint64_t)slot_of(pos) * USV_VRING_DESC_SIZE;
	uint16_t flags = wrap_of(pos) ? F_AVAIL | F_USED : 0;
	uint8_t body[6];

	/* Len is meaningful to the driver only with F_WRITE (2.8.4). */
	if (len)
		flags |= USV_VRING_DESC_F_WRITE;
	memcpy(body, &len, 4);
	memcpy(body + 4, &id, 2);
	if (vr->ldesc) {
		memcpy(vr->ldesc + off + PD_LEN, body, sizeof(body));
		__atomic_store_n((uint16_t *)(vr->ldesc + off + PD_FLAGS), flags,
				 __ATOMIC_RELEASE);
	} else if (usv_vringh_ring_io(vr, vr->desc, off + PD_LEN, body, sizeof(body), true) ||
		   usv_vringh_ring_io(vr, vr->desc, off + PD_FLAGS, &flags, sizeof(flags),
				      true)) {
		return -EFAULT;
	}
	return log_desc(vr, off + PD_LEN, USV_VRING_DESC_SIZE - PD_LEN);
}

int usv_vringh_packed_push(struct usv_vringh *vr, const uint32_t *heads, const uint32_t *lens,
			   unsigned n)
{
	uint16_t old = vr->last_used_idx, pos = old;
	uint32_t slots = 0, d, m = 2 * vr->num;

	if (!n)
		return 0;
	if (slot_of(old) >= vr->num)
		return usv_vringh_fail(vr, -EINVAL, "used position %u is beyond ring size %u",
				       slot_of(old), vr->num);
	if (n > vr->inflight_n)
		return usv_vringh_fail(vr, -EINVAL, "%u buffers used, %u taken", n,
				       vr->inflight_n);
	/* Each element skips its chain's slots. The first element's flags go
	 * last, so that the driver sees the batch at once. */
	for (unsigned i = 0; i < n; i++) {
		uint16_t k = vr->inflight[(vr->inflight_head + i) % USV_VRING_PACKED_INFLIGHT];

		if (i && put_used(vr, pos, (uint16_t)heads[i], lens[i]))
			return usv_vringh_fail(vr, -EFAULT, "failed to write used element %u",
					       slot_of(pos));
		pos = advance(vr, pos, k);
		slots += k;
	}
	if (put_used(vr, old, (uint16_t)heads[0], lens[0]))
		return usv_vringh_fail(vr, -EFAULT, "failed to write used element %u",
				       slot_of(old));
	vr->inflight_head = (uint16_t)((vr->inflight_head + n) % USV_VRING_PACKED_INFLIGHT);
	vr->inflight_n -= (uint16_t)n;
	vr->inflight_slots -= slots;
	vr->last_used_idx = pos;
	/* The signalled position was passed: it is a lap old, forget it. */
	d = (lin(vr, pos) + m - lin(vr, old)) % m;
	if (d && (lin(vr, pos) + m - lin(vr, vr->signalled_used)) % m < d)
		vr->signalled_used_valid = false;
	return 0;
}

/* An event suppression structure: {off_wrap, flags}. */
static int get_event(struct usv_vringh *vr, uint8_t *local, uint64_t uva, uint16_t *off_wrap,
		     uint16_t *flags)
{
	uint32_t v;

	if (local)
		v = __atomic_load_n((uint32_t *)local, __ATOMIC_ACQUIRE);
	else if (usv_vringh_ring_io(vr, uva, 0, &v, sizeof(v), false))
		return -EFAULT;
	*off_wrap = (uint16_t)v;
	*flags = (uint16_t)(v >> 16);
	return 0;
}

/* Publishes the device event structure: DISABLE while kicks are off, else
 * DESC at the first position not seen with EVENT_IDX (kick when that one
 * is made available), else ENABLE. One 32-bit store. */
int usv_vringh_packed_write_event(struct usv_vringh *vr)
{
	uint16_t flags = vr->used_flags & USV_VRING_USED_F_NO_NOTIFY ?
				 USV_VRING_PACKED_EVENT_DISABLE :
			 vr->event_idx ? USV_VRING_PACKED_EVENT_DESC :
					 USV_VRING_PACKED_EVENT_ENABLE;
	uint32_t v = vr->avail_idx | (uint32_t)flags << 16;

	if (vr->lused)
		__atomic_store_n((uint32_t *)vr->lused, v, __ATOMIC_RELEASE);
	else if (usv_vringh_ring_io(vr, vr->used, 0, &v, sizeof(v), true))
		return -EFAULT;
	if (!vr->log_used)
		return 0;
	/* Through an IOTLB QEMU's log address is an IOVA too (the kernel's
	 * log_used() translates the used ring's address instead). */
	return vr->iotlb ? usv_vringh_log_iova(vr, vr->used, EV_SIZE)
			 : usv_vringh_log_write(vr, vr->log_addr, EV_SIZE);
}

/* Is the descriptor at pos available? */
static bool avail_at(struct usv_vringh *vr, uint16_t pos)
{
	uint16_t flags;

	if (slot_of(pos) >= vr->num || head_flags(vr, slot_of(pos), &flags))
		return false;
	return is_avail(flags, wrap_of(pos));
}

bool usv_vringh_packed_has_avail(struct usv_vringh *vr)
{
	return avail_at(vr, vr->last_avail_idx);
}

bool usv_vringh_packed_need_signal(struct usv_vringh *vr)
{
	uint16_t off_wrap, flags, old, new;
	uint32_t m = 2 * vr->num, e;
	bool valid;

	/* Pairs with the guest's barrier when it enables interrupts. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vr->notify_on_empty && !usv_vringh_packed_has_avail(vr))
		return true;
	if (get_event(vr, vr->lavail, vr->avail, &off_wrap, &flags))
		return true;
	old = vr->signalled_used;
	valid = vr->signalled_used_valid;
	new = vr->signalled_used = vr->last_used_idx;
	vr->signalled_used_valid = true;
	if (flags == USV_VRING_PACKED_EVENT_DISABLE)
		return false;
	/* ENABLE, or DESC without EVENT_IDX, or a value the spec reserves:
	 * interrupt, as a missed interrupt stalls the guest. */
	if (flags != USV_VRING_PACKED_EVENT_DESC || !vr->event_idx || !valid)
		return true;
	/* Did the used position pass off_wrap, in [old, new)? The driver's
	 * vring_need_event() on the circle of 2 * num positions. */
	e = lin(vr, off_wrap);
	return (lin(vr, new) + 2 * m - e - 1) % m < (lin(vr, new) + m - lin(vr, old)) % m;
}

bool usv_vringh_packed_enable_notify(struct usv_vringh *vr)
{
	if (!(vr->used_flags & USV_VRING_USED_F_NO_NOTIFY))
		return false;
	vr->used_flags &= (uint16_t)~USV_VRING_USED_F_NO_NOTIFY;
	if (usv_vringh_packed_write_event(vr))
		return false;
	/* They could have slipped one in as we were doing that. Chains seen
	 * and given back do not count (RX holds a frame on them). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_at(vr, vr->avail_idx);
}

void usv_vringh_packed_disable_notify(struct usv_vringh *vr)
{
	if (vr->used_flags & USV_VRING_USED_F_NO_NOTIFY)
		return;
	vr->used_flags |= USV_VRING_USED_F_NO_NOTIFY;
	usv_vringh_packed_write_event(vr);
}

/* One event structure for usv_vringh_packed_describe(), or "?". */
static const char *event(struct usv_vringh *vr, uint8_t *local, uint64_t uva, char *buf,
			 size_t n)
{
	uint16_t off_wrap, flags;

	if (get_event(vr, local, uva, &off_wrap, &flags))
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, "%u/%u:%u", slot_of(off_wrap), wrap_of(off_wrap), flags);
	return buf;
}

void usv_vringh_packed_describe(struct usv_vringh *vr, char *buf, size_t n)
{
	char f[8], drv[24], dev[24];
	uint16_t flags;
	unsigned s = slot_of(vr->last_avail_idx);

	if (s < vr->num && !head_flags(vr, s, &flags))
		snprintf(f, sizeof(f), "0x%x", flags);
	else
		snprintf(f, sizeof(f), "?");
	snprintf(buf, n, "packed last_avail=%u/%u desc.flags=%s last_used=%u/%u inflight=%u "
		 "driver_event=%s device_event=%s signalled_used=%u/%u%s used_flags=0x%x",
		 s, wrap_of(vr->last_avail_idx), f, slot_of(vr->last_used_idx),
		 wrap_of(vr->last_used_idx), vr->inflight_n,
		 event(vr, vr->lavail, vr->avail, drv, sizeof(drv)),
		 event(vr, vr->lused, vr->used, dev, sizeof(dev)), slot_of(vr->signalled_used),
		 wrap_of(vr->signalled_used), vr->signalled_used_valid ? "" : " (none yet)",
		 vr->used_flags);
}
