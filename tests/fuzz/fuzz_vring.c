/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ring walker's host side (usvhost/vringh.h), split and
 * packed, against a guest that writes anything into its rings, descriptor
 * tables, indirect tables, indexes and event structures.
 *
 * Guest memory is three regions over one buffer of this process, all with the
 * mmap strategy (accesses are memcpy; nothing goes through another process):
 *   region 0: gpa [0, 64 KiB)
 *   region 1: gpa [64 KiB, 128 KiB), adjacent in guest space but not here
 *   region 2: gpa [2^64 - 64 KiB, 2^64), the top of the guest address space
 * Each region is followed by an inaccessible page, so a walk that strays out
 * of a region faults at once instead of reading a neighbour.
 *
 * Input: a header, then operations until the input ends.
 *   header: u8 log2(num) (num = 1 << (v % 11): 1..1024)
 *           u8 features (bit 0 EVENT_IDX, 1 INDIRECT_DESC, 2 NOTIFY_ON_EMPTY,
 *              3 LOG_ALL, 4 RING_PACKED, 5 IOTLB; bits 6-7 ignored)
 *           u8 segments a chain may have (0: USV_VRING_MAX_SEGS)
 *           gpa desc, gpa avail, gpa used (each a u32 "gpa", below)
 *           u16 start index (last_avail_idx = avail->idx, as after
 *               SET_VRING_BASE), u16 used->idx (last_used_idx)
 *           IOTLB only: u8 ranges the IOTLB holds (0: USV_IOTLB_MAX_ENTRIES)
 *   a u32 "gpa" is itself, or with bit 31 set, 2^64 - 64 KiB + (v & 0xffff)
 *   operations, one u8 (mod 15; mod 19 with IOTLB) each:
 *     0 poke:  gpa, u8 len, bytes          (guest writes raw memory)
 *     1 desc:  u16 i, u64 addr, u32 len, u16 flags, u16 next
 *     2 ind:   gpa table, u16 i, then a descriptor as for desc
 *     3 avail: u16 head                    (avail->ring[idx % num], idx++)
 *     4 avail->idx = u16
 *     5 avail->flags = u16, used_event = u16
 *     6 pop:   u8 n                        (up to n % 64 + 1 chains)
 *     7 push:  u8 n, n x u32 len           (the oldest popped heads)
 *     8 push raw: u8 n, n x (u32 head, u32 len)
 *     9 need_signal   10 enable_notify   11 disable_notify
 *     12 has_avail    13 unpop u8 n      14 remap and write_used_flags
 * Packed rings (2.8) read the same operations their way: avail, used are the
 * driver and device event structures; the start indexes are positions
 * (slot | wrap << 15); 1 writes a ring slot raw (addr, len, id, flags);
 *     3 avail: u16 v   (slot at the driver's position gets flags v & 7 and
 *                       the driver's avail bits; the position moves on)
 *     4 driver position = u16   5 driver event = u16 off_wrap, u16 flags
 * IOTLB (a guest with a vIOMMU; split and packed rings): the three
 * ring addresses and every descriptor address are IOVAs, translated
 * through a device IOTLB the input builds (empty at the start, freed at the
 * end of the run). Operations 1, 3, 4, 5 write the ring where the IOTLB maps
 * it at the time (bytes it does not map are not written); 0 and 2 still
 * write guest-physical memory. A pop first prefetches the ring parts, as
 * the datapath does before each go; on a miss nothing is popped. More
 * operations:
 *     15 iotlb add: u32 "gpa" iova, u32 size, u32 "gpa" target, u8 perm
 *                   (target inside a region, the range cut at its end, so
 *                   every translation is guest RAM; perm v % 3 + 1: RO, WO,
 *                   RW; size 0 asks for [iova, iova - 1])
 *     16 iotlb del: u32 "gpa" iova, u32 size (the range [iova, iova+size-1])
 *     17 prefetch
 *     18 answer:    u32 "gpa" target, u8 perm: QEMU's UPDATE for the last
 *                   miss asked for, its 4 KiB page mapped to target (cut
 *                   and with perm as for 15); nothing when none is pending
 * Every change of the IOTLB is followed by usv_vringh_set_iotlb(), as the
 * datapath does on an UPDATE or INVALIDATE.
 * A pop that fails (other than EAGAIN, and a miss) ends the run: the
 * datapath stops a broken ring.
 *
 * Checked beyond memory safety: a popped chain's segments each lie inside one
 * region and point where the region maps them; lengths add up; the readable
 * part can be read, the writable part written and read back (4 KiB of each),
 * not one byte more; a failed pop leaves a reason and does not move
 * last_avail_idx; packed: a pop moves by 1..num slots, the slots in flight
 * never exceed the ring, positions stay inside it. IOTLB: a pop that misses
 * leaves last_avail_idx and leaves the miss unset or at an IOVA the IOTLB
 * does not map, with access RO or WO (so is a prefetch that misses); a
 * deleted range is gone.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#include "core/guestmem.h"
#include "core/iotlb.h"
#include "core/log.h"
#include "usvhost/vringh.h"
#include "fuzz.h"

#define PAGE 4096u
#define REGION_SIZE (64u * 1024)
#define NREGIONS 3
#define TOP_GPA (0ULL - REGION_SIZE)
/* guard, region, guard, region, guard, region, guard */
#define BUF_SIZE (NREGIONS * (REGION_SIZE + PAGE) + PAGE)

#define MAX_OPS 256
#define MAX_POPS 256     /* per input: bounds the cost of a run */
#define MAX_PENDING 1024 /* popped heads not yet pushed */
#define COPY_MAX 4096    /* bytes copied out of / into each chain */

static const uint64_t region_gpa[NREGIONS] = { 0, REGION_SIZE, TOP_GPA };

struct fz {
	uint8_t *buf;               /* BUF_SIZE, guards PROT_NONE */
	uint8_t *local[NREGIONS];   /* each region's bytes */
	struct usv_guestmem *mem;
	pthread_mutex_t log_lock;
	struct usv_vringh vr;
	struct usv_chain c;
	struct usv_seg segs[USV_VRING_MAX_SEGS];
	uint32_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t drv_avail_idx;       /* packed: the driver's position */
	bool packed;
	bool iotlb;                   /* ring and buffer addresses are IOVAs */
	struct usv_iotlb *tlb;        /* this run's, NULL without IOTLB */
	bool asked;                   /* a miss was asked for, not yet answered: */
	uint64_t asked_iova;
	uint16_t pending[MAX_PENDING];
	unsigned npending;
	unsigned pops;
	uint8_t scratch[COPY_MAX];
	bool verbose; /* FUZZ_VERBOSE=1: each pop and its answer on stderr */
};

static struct fz *fz;

/* Our pointer for guest bytes [gpa, gpa+len) inside one region, or NULL. */
static uint8_t *gp(uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < NREGIONS; i++) {
		uint64_t off = gpa - region_gpa[i];

		if (gpa >= region_gpa[i] && off < REGION_SIZE && len <= REGION_SIZE - off)
			return fz->local[i] + off;
	}
	return NULL;
}

static uint64_t gpa_field(struct fin *in)
{
	uint32_t v = fin_u32(in);

	return v & 0x80000000u ? TOP_GPA + (v & 0xffff) : v;
}

/* The owner's address of a ring part: through the table, or, outside guest
 * memory, an address no region maps (every access there is EFAULT). */
static uint64_t ring_uva(uint64_t gpa, uint64_t align)
{
	uint64_t uva;

	gpa &= ~(align - 1);
	if (usv_gpa_to_uva(fz->mem, gpa, 1, &uva))
		uva = 0x100000ULL + (gpa & 0xffffff);
	return uva & ~(align - 1);
}

/* Our pointer for the guest byte the IOTLB maps at iova, or NULL. */
static uint8_t *iova_byte(uint64_t iova)
{
	const struct usv_iotlb_map *m = usv_iotlb_first(fz->tlb, iova, iova);
	const struct usv_mem_region *r;
	uint64_t uva;

	if (!m)
		return NULL;
	uva = m->addr + (iova - m->start);
	r = usv_guestmem_find_uva(fz->mem, uva);
	return r ? r->local + (uva - r->uaddr) : NULL;
}

/* The guest writes ring memory: at a guest address, or with an IOTLB at
 * an IOVA, byte by byte where the IOTLB maps it now. */
static void ring_write(uint64_t addr, const void *src, unsigned len)
{
	const uint8_t *b = src;
	uint8_t *p;

	if (!fz->iotlb) {
		if ((p = gp(addr, len)))
			memcpy(p, b, len);
		return;
	}
	for (unsigned i = 0; i < len; i++)
		if ((p = iova_byte(addr + i)))
			*p = b[i];
}

static void put16(uint64_t addr, uint16_t v)
{
	uint8_t *p;

	if (fz->iotlb) {
		uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

		ring_write(addr, b, sizeof(b));
	} else if ((p = gp(addr, 2))) {
		__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
	}
}

/* A descriptor from the input, into the ring (through the IOTLB when there
 * is one) or into an indirect table in guest-physical memory. */
static void put_desc(uint64_t addr, bool ring, struct fin *in)
{
	uint8_t d[16];
	uint8_t *p;

	fin_bytes(in, d, sizeof(d)); /* addr, len, flags, next: little-endian */
	if (ring)
		ring_write(addr, d, sizeof(d));
	else if ((p = gp(addr, sizeof(d))))
		memcpy(p, d, sizeof(d));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct usv_vhost_memory_region r[NREGIONS];

	(void)argc;
	(void)argv;
	usv_log_setup(USV_LOG_ERR, false);
	fz = calloc(1, sizeof(*fz));
	if (!fz)
		abort();
	fz->buf = mmap(NULL, BUF_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fz->buf == MAP_FAILED)
		abort();
	for (unsigned i = 0; i < NREGIONS; i++) {
		fz->local[i] = fz->buf + PAGE + i * (REGION_SIZE + PAGE);
		if (mprotect(fz->local[i], REGION_SIZE, PROT_READ | PROT_WRITE))
			abort();
		r[i] = (struct usv_vhost_memory_region){
			.guest_phys_addr = region_gpa[i],
			.memory_size = REGION_SIZE,
			.userspace_addr = (uintptr_t)fz->local[i],
		};
	}
	if (usv_guestmem_new(r, NREGIONS, &fz->mem))
		abort();
	/* As usv_guestmem_bind() leaves shared RAM it could map. */
	for (unsigned i = 0; i < NREGIONS; i++) {
		fz->mem->regions[i].local = fz->local[i];
		fz->mem->regions[i].strategy = USV_MEM_MMAP;
		fz->mem->regions[i].writable = true;
	}
	/* No pinned /proc/PID/mem (memfd stays -1): anything not mapped is
	 * EFAULT, and nothing outside these regions is ever reached. */
	pthread_mutex_init(&fz->log_lock, NULL);
	fz->verbose = getenv("FUZZ_VERBOSE") && strcmp(getenv("FUZZ_VERBOSE"), "0");
	return 0;
}

/* The datapath's copies, kept in one place: their last argument names how
 * to reach unmapped memory (the table's pinned fd, which it has none of). */

static int chain_rd(const struct usv_chain *c, uint32_t off, void *buf, uint32_t len)
{
	return usv_chain_read(c, off, buf, len, fz->mem);
}

static int chain_wr(const struct usv_chain *c, uint32_t off, const void *buf,
		    uint32_t len)
{
	return usv_chain_write(c, off, buf, len, fz->mem);
}

static int chain_rd_in(const struct usv_chain *c, uint32_t off, void *buf, uint32_t len)
{
	return usv_chain_read_in(c, off, buf, len, fz->mem);
}

static void check_chain(void)
{
	const struct usv_chain *c = &fz->c;
	uint64_t out = 0, inb = 0;
	uint32_t n;

	FUZZ_ASSERT(c->head < fz->num, "head %u, num %u", c->head, fz->num);
	FUZZ_ASSERT(c->nout + c->nin <= c->max_segs, "%u + %u segments, max %u",
		    c->nout, c->nin, c->max_segs);
	for (unsigned k = 0; k < c->nout + c->nin; k++) {
		const struct usv_seg *s = &c->seg[k];
		const struct usv_mem_region *r = usv_guestmem_find(fz->mem, s->gpa);

		FUZZ_ASSERT(r != NULL, "segment %u at gpa 0x%llx outside guest memory",
			    k, (unsigned long long)s->gpa);
		FUZZ_ASSERT(s->len > 0 && s->len - 1 <= r->last - s->gpa,
			    "segment %u (gpa 0x%llx len %u) leaves its region", k,
			    (unsigned long long)s->gpa, s->len);
		FUZZ_ASSERT(s->local == r->local + (s->gpa - r->gpa),
			    "segment %u points elsewhere than its gpa", k);
		FUZZ_ASSERT(s->uva == r->uaddr + (s->gpa - r->gpa),
			    "segment %u has the wrong owner address", k);
		if (k < c->nout)
			out += s->len;
		else
			inb += s->len;
	}
	FUZZ_ASSERT(out == c->out_len && inb == c->in_len,
		    "lengths %llu/%llu, chain says %u/%u", (unsigned long long)out,
		    (unsigned long long)inb, c->out_len, c->in_len);
	/* What TX and RX do with it (bounded). */
	n = c->out_len < COPY_MAX ? c->out_len : COPY_MAX;
	FUZZ_ASSERT(chain_rd(c, c->out_len - n, fz->scratch, n) == 0, "read of %u", n);
	FUZZ_ASSERT(chain_rd(c, c->out_len, fz->scratch, 1) == -EFAULT,
		    "read past the readable part");
	n = c->in_len < COPY_MAX ? c->in_len : COPY_MAX;
	FUZZ_ASSERT(chain_wr(c, 0, fz->scratch, n) == 0, "write of %u", n);
	FUZZ_ASSERT(chain_wr(c, c->in_len, fz->scratch, 1) == -EFAULT,
		    "write past the writable part");
	FUZZ_ASSERT(chain_rd_in(c, c->in_len - n, fz->scratch, n) == 0, "read back of %u", n);
	/* LOG_ALL without a log base logs nothing and never fails. */
	FUZZ_ASSERT(usv_vringh_log_chain(&fz->vr, c, c->in_len) == 0, "dirty log");
}

/* A packed position on the circle of 2 * num. */
static uint32_t lin(uint16_t pos)
{
	return (pos & 0x7fff) + (pos & 0x8000 ? fz->num : 0);
}

static void check_packed_move(uint16_t before)
{
	uint16_t after = fz->vr.last_avail_idx;
	uint32_t d = (lin(after) + 2 * fz->num - lin(before)) % (2 * fz->num);

	FUZZ_ASSERT((after & 0x7fff) < fz->num, "position %u outside the ring of %u",
		    after & 0x7fff, fz->num);
	FUZZ_ASSERT(d >= 1 && d <= fz->num, "a pop moved from 0x%x to 0x%x", before, after);
	FUZZ_ASSERT(fz->vr.inflight_slots <= fz->num, "%u slots in flight, ring of %u",
		    fz->vr.inflight_slots, fz->num);
}

static bool mapped(uint64_t iova)
{
	return usv_iotlb_first(fz->tlb, iova, iova) != NULL;
}

/* A pop or prefetch missed: what it asks for, and the datapath's answer
 * (usv_dp_iotlb_miss: the miss asked for, then cleared). */
static void on_miss(const char *what)
{
	if (!fz->vr.miss) {
		/* A range without the access, or wrapping past 2^64: the
		 * ring waits, asking for nothing. */
		if (fz->verbose)
			fprintf(stderr, "fuzz_vring: %s waits, nothing to ask\n", what);
		return;
	}
	if (fz->verbose)
		fprintf(stderr, "fuzz_vring: %s missed at 0x%llx (access %u)\n", what,
			(unsigned long long)fz->vr.miss_iova, fz->vr.miss_access);
	FUZZ_ASSERT(fz->vr.miss_access == USV_IOTLB_RO || fz->vr.miss_access == USV_IOTLB_WO,
		    "%s missed with access %u", what, fz->vr.miss_access);
	FUZZ_ASSERT(!mapped(fz->vr.miss_iova), "%s missed at 0x%llx, which is mapped", what,
		    (unsigned long long)fz->vr.miss_iova);
	fz->asked = true;
	fz->asked_iova = fz->vr.miss_iova;
	fz->vr.miss = false;
}

/* usv_vringh_prefetch(); true when the ring may go. */
static bool prefetch(void)
{
	int ret = usv_vringh_prefetch(&fz->vr);

	FUZZ_ASSERT(ret == 0 || ret == USV_VRING_MISS, "prefetch answered %d", ret);
	FUZZ_ASSERT(fz->vr.meta_ok == (ret == 0), "prefetch %d, meta_ok %d", ret,
		    fz->vr.meta_ok);
	if (ret)
		on_miss("prefetch");
	return ret == 0;
}

/* Pops up to n chains; false when the ring broke. */
static bool pop_some(unsigned n)
{
	/* The datapath's go starts with the ring parts translated. */
	if (fz->iotlb && !prefetch())
		return true;
	for (unsigned i = 0; i < n && fz->pops < MAX_POPS; i++) {
		uint16_t before = fz->vr.last_avail_idx;
		int ret;

		fz->c.seg = fz->segs;
		fz->vr.err[0] = '\0';
		ret = usv_vringh_pop(&fz->vr, &fz->c);
		fz->pops++;
		if (fz->verbose)
			fprintf(stderr, "fuzz_vring: pop at %u -> %d: head %u, %u out (%u bytes), "
				"%u in (%u bytes)%s%s\n", before, ret, fz->c.head, fz->c.nout,
				fz->c.out_len, fz->c.nin, fz->c.in_len, ret ? ", " : "",
				ret ? fz->vr.err : "");
		if (ret == -EAGAIN) {
			FUZZ_ASSERT(fz->vr.last_avail_idx == before, "EAGAIN moved the index");
			return true;
		}
		if (ret == USV_VRING_MISS && fz->iotlb) {
			FUZZ_ASSERT(fz->vr.last_avail_idx == before, "a miss moved the index");
			on_miss("pop");
			return true; /* the ring waits for the UPDATE */
		}
		if (ret) {
			/* EPERM: a buffer through a range without the access. */
			FUZZ_ASSERT(ret == -EFAULT || ret == -EINVAL || ret == -ENOBUFS ||
					    ret == -E2BIG || (ret == -EPERM && fz->iotlb),
				    "pop answered %d", ret);
			FUZZ_ASSERT(fz->vr.err[0] != '\0', "pop failed (%d) without a reason", ret);
			FUZZ_ASSERT(fz->vr.last_avail_idx == before,
				    "a failed pop moved last_avail_idx");
			return false;
		}
		if (fz->packed)
			check_packed_move(before);
		else
			FUZZ_ASSERT(fz->vr.last_avail_idx == (uint16_t)(before + 1),
				    "a pop moved last_avail_idx from %u to %u", before,
				    fz->vr.last_avail_idx);
		check_chain();
		if (fz->npending < MAX_PENDING)
			fz->pending[fz->npending++] = fz->c.head;
	}
	return true;
}

/* The packed driver: slot at its position made available with flags
 * v & 7 (NEXT, WRITE, INDIRECT) in its lap; the position moves on. */
static void packed_avail(uint16_t v)
{
	uint16_t pos = fz->drv_avail_idx, slot = (uint16_t)((pos & 0x7fff) % fz->num);
	uint16_t flags = (uint16_t)(v & 7) | (pos & 0x8000 ? USV_VRING_PACKED_DESC_F_AVAIL :
					      USV_VRING_PACKED_DESC_F_USED);

	put16(fz->desc_gpa + 16ULL * slot + 14, flags);
	if (++slot == fz->num)
		fz->drv_avail_idx = (uint16_t)((pos & 0x8000) ^ 0x8000);
	else
		fz->drv_avail_idx = (uint16_t)(slot | (pos & 0x8000));
}

static void push_pending(struct fin *in)
{
	uint32_t heads[64], lens[64];
	unsigned n = fin_u8(in) % 65;

	if (n > fz->npending)
		n = fz->npending;
	for (unsigned i = 0; i < n; i++) {
		heads[i] = fz->pending[i];
		lens[i] = fin_u32(in);
	}
	memmove(fz->pending, fz->pending + n, (fz->npending - n) * sizeof(fz->pending[0]));
	fz->npending -= n;
	/* A packed push that succeeded leaves the used position in the ring
	 * (a start position outside it fails the first push). */
	if (!usv_vringh_push(&fz->vr, heads, lens, n) && n && fz->packed)
		FUZZ_ASSERT((fz->vr.last_used_idx & 0x7fff) < fz->num,
			    "used position 0x%x outside the ring", fz->vr.last_used_idx);
}

static void push_raw(struct fin *in)
{
	uint32_t heads[64], lens[64];
	unsigned n = fin_u8(in) % 65;

	for (unsigned i = 0; i < n; i++) {
		heads[i] = fin_u32(in);
		lens[i] = fin_u32(in);
	}
	usv_vringh_push(&fz->vr, heads, lens, n);
}

/* 15: a range of the IOTLB onto guest RAM, cut at its region's end. */
static void iotlb_add(struct fin *in)
{
	uint64_t iova = gpa_field(in), size = fin_u32(in), gpa = gpa_field(in);
	uint8_t perm = (uint8_t)(fin_u8(in) % 3 + 1);
	const struct usv_mem_region *r = usv_guestmem_find(fz->mem, gpa);
	int ret;

	if (!r)
		return;
	if (size && size - 1 > r->last - gpa)
		size = r->last - gpa + 1;
	/* Size 0 is [iova, iova - 1]: refused, but for iova 0, which would
	 * be the whole space, far past the region. */
	if (!size && !iova)
		return;
	ret = usv_iotlb_add(fz->tlb, iova, iova + size - 1, r->uaddr + (gpa - r->gpa), perm);
	FUZZ_ASSERT(ret == 0 || (ret == -EFAULT && iova + size - 1 < iova),
		    "iotlb add [0x%llx, +0x%llx) answered %d", (unsigned long long)iova,
		    (unsigned long long)size, ret);
	FUZZ_ASSERT(fz->tlb->limit == 0 || fz->tlb->n <= fz->tlb->limit,
		    "%u ranges, limit %u", fz->tlb->n, fz->tlb->limit);
	usv_vringh_set_iotlb(&fz->vr, fz->tlb);
}

/* 16: every range overlapping [iova, iova+size-1] goes. */
static void iotlb_del(struct fin *in)
{
	uint64_t iova = gpa_field(in), last = iova + fin_u32(in) - 1;

	usv_iotlb_del(fz->tlb, iova, last);
	if (last >= iova)
		FUZZ_ASSERT(!usv_iotlb_first(fz->tlb, iova, last), "a deleted range stays");
	usv_vringh_set_iotlb(&fz->vr, fz->tlb);
}

/* 18: QEMU answers the last miss asked for: its page, mapped to target. */
static void answer(struct fin *in)
{
	uint64_t gpa = gpa_field(in), page = fz->asked_iova & ~(uint64_t)0xfff;
	uint8_t perm = (uint8_t)(fin_u8(in) % 3 + 1);
	const struct usv_mem_region *r = usv_guestmem_find(fz->mem, gpa);
	uint64_t size = 0x1000;

	if (!fz->asked || !r)
		return;
	fz->asked = false;
	if (size - 1 > r->last - gpa)
		size = r->last - gpa + 1;
	FUZZ_ASSERT(usv_iotlb_add(fz->tlb, page, page + size - 1, r->uaddr + (gpa - r->gpa),
				  perm) == 0 || page + size - 1 < page,
		    "the answer to a miss at 0x%llx was refused", (unsigned long long)fz->asked_iova);
	usv_vringh_set_iotlb(&fz->vr, fz->tlb);
}

static void setup(struct fin *in)
{
	uint8_t f = 0;
	uint64_t features = 0;
	unsigned segs;

	for (unsigned i = 0; i < NREGIONS; i++)
		memset(fz->local[i], 0, REGION_SIZE);
	fz->num = 1u << (fin_u8(in) % 11);
	f = fin_u8(in);
	if (f & 1)
		features |= USV_BIT(USV_F_RING_EVENT_IDX);
	if (f & 2)
		features |= USV_BIT(USV_F_RING_INDIRECT_DESC);
	if (f & 4)
		features |= USV_BIT(USV_F_NOTIFY_ON_EMPTY);
	if (f & 8)
		features |= USV_BIT(USV_F_LOG_ALL);
	if (f & 16)
		features |= USV_BIT(USV_F_RING_PACKED);
	fz->packed = f & 16;
	fz->iotlb = f & 32;
	segs = fin_u8(in);
	fz->desc_gpa = gpa_field(in);
	fz->avail_gpa = gpa_field(in) & (fz->packed ? ~3ULL : ~1ULL);
	fz->used_gpa = gpa_field(in) & ~3ULL;
	memset(&fz->vr, 0, sizeof(fz->vr));
	usv_vringh_setup(&fz->vr, fz->mem, fz->num, ring_uva(fz->desc_gpa, 1),
			 ring_uva(fz->avail_gpa, 2), ring_uva(fz->used_gpa, 4), features);
	/* No dirty log: its bitmap lives in the owner, not in guest memory. */
	fz->vr.log = (struct usv_vringh_log){ .lock = &fz->log_lock, .memfd = -1, .fd = -1 };
	fz->vr.last_avail_idx = fz->vr.avail_idx = fin_u16(in);
	fz->drv_avail_idx = fz->vr.last_avail_idx;
	fz->vr.last_used_idx = fin_u16(in);
	fz->asked = false;
	if (fz->iotlb) {
		uint8_t limit = fin_u8(in);

		fz->tlb = usv_iotlb_new(limit ? limit : USV_IOTLB_MAX_ENTRIES);
		if (!fz->tlb)
			abort();
		/* The ring addresses are IOVAs: nothing to translate yet. */
		fz->vr.desc = fz->desc_gpa;
		fz->vr.avail = fz->avail_gpa;
		fz->vr.used = fz->used_gpa;
		usv_vringh_set_iotlb(&fz->vr, fz->tlb);
	}
	if (!fz->packed) {
		put16(fz->avail_gpa + 2, fz->drv_avail_idx);
		put16(fz->used_gpa + 2, fz->vr.last_used_idx);
	}
	memset(&fz->c, 0, sizeof(fz->c));
	fz->c.seg = fz->segs;
	fz->c.max_segs = segs ? segs : USV_VRING_MAX_SEGS;
	fz->npending = 0;
	fz->pops = 0;
}

/* The operations after the header; returns when the input ends or the
 * ring broke. */
static void run(struct fin *in)
{
	for (unsigned op = 0; op < MAX_OPS && !fin_empty(in); op++) {
		/* The IOTLB's operations only with it: without, every input
		 * means what it meant before they existed. */
		uint8_t k = fin_u8(in) % (fz->iotlb ? 19 : 15);
		uint64_t gpa;
		uint8_t bytes[255];
		unsigned n;

		switch (k) {
		case 0: {
			uint8_t *p;

			gpa = gpa_field(in);
			n = fin_u8(in);
			n = (unsigned)fin_bytes(in, bytes, n);
			if ((p = gp(gpa, n)))
				memcpy(p, bytes, n);
			break;
		}
		case 1:
			put_desc(fz->desc_gpa + 16ULL * (fin_u16(in) & (fz->num - 1)), true, in);
			break;
		case 2:
			gpa = gpa_field(in);
			put_desc(gpa + 16ULL * fin_u16(in), false, in);
			break;
		case 3:
			if (fz->packed) {
				packed_avail(fin_u16(in));
				break;
			}
			put16(fz->avail_gpa + 4 + 2ULL * (fz->drv_avail_idx & (fz->num - 1)),
			      fin_u16(in));
			put16(fz->avail_gpa + 2, ++fz->drv_avail_idx);
			break;
		case 4:
			fz->drv_avail_idx = fin_u16(in);
			put16(fz->avail_gpa + 2, fz->drv_avail_idx);
			break;
		case 5:
			put16(fz->avail_gpa, fin_u16(in));
			if (fz->packed)
				put16(fz->avail_gpa + 2, fin_u16(in));
			else
				put16(fz->avail_gpa + 4 + 2ULL * fz->num, fin_u16(in));
			break;
		case 6:
			if (!pop_some(fin_u8(in) % 64 + 1))
				return; /* the datapath stops a broken ring */
			break;
		case 7:
			push_pending(in);
			break;
		case 8:
			push_raw(in);
			break;
		case 9:
			usv_vringh_need_signal(&fz->vr);
			break;
		case 10:
			usv_vringh_enable_notify(&fz->vr);
			break;
		case 11:
			usv_vringh_disable_notify(&fz->vr);
			break;
		case 12:
			usv_vringh_has_avail(&fz->vr);
			break;
		case 13:
			/* Only chains actually popped and not yet used can go back. */
			n = fin_u8(in);
			if (n > fz->npending)
				n = fz->npending;
			usv_vringh_unpop(&fz->vr, n);
			fz->npending -= n;
			break;
		case 14:
			usv_vringh_remap(&fz->vr, fz->mem);
			usv_vringh_write_used_flags(&fz->vr);
			break;
		case 15:
			iotlb_add(in);
			break;
		case 16:
			iotlb_del(in);
			break;
		case 17:
			prefetch();
			break;
		case 18:
			answer(in);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };

	setup(&in);
	run(&in);
	usv_iotlb_free(fz->tlb);
	fz->tlb = NULL;
	fz->vr.iotlb = NULL;
	return 0;
}
