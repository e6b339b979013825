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
 *              3 LOG_ALL, 4 RING_PACKED)
 *           u8 segments a chain may have (0: USV_VRING_MAX_SEGS)
 *           gpa desc, gpa avail, gpa used (each a u32 "gpa", below)
 *           u16 start index (last_avail_idx = avail->idx, as after
 *               SET_VRING_BASE), u16 used->idx (last_used_idx)
 *   a u32 "gpa" is itself, or with bit 31 set, 2^64 - 64 KiB + (v & 0xffff)
 *   operations, one u8 (mod 15) each:
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
 * A pop that fails (other than EAGAIN) ends the run: the datapath stops a
 * broken ring.
 *
 * Checked beyond memory safety: a popped chain's segments each lie inside one
 * region and point where the region maps them; lengths add up; the readable
 * part can be read, the writable part written and read back (4 KiB of each),
 * not one byte more; a failed pop leaves a reason and does not move
 * last_avail_idx; packed: a pop moves by 1..num slots, the slots in flight
 * never exceed the ring, positions stay inside it.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#include "core/guestmem.h"
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

static void put16(uint64_t gpa, uint16_t v)
{
	uint8_t *p = gp(gpa, 2);

	if (p)
		__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

static void put_desc(uint64_t gpa, struct fin *in)
{
	uint8_t d[16];
	uint8_t *p = gp(gpa, sizeof(d));

	fin_bytes(in, d, sizeof(d)); /* addr, len, flags, next: little-endian */
	if (p)
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

/* Pops up to n chains; false when the ring broke. */
static bool pop_some(unsigned n)
{
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
		if (ret) {
			FUZZ_ASSERT(ret == -EFAULT || ret == -EINVAL || ret == -ENOBUFS ||
					    ret == -E2BIG,
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };

	setup(&in);
	for (unsigned op = 0; op < MAX_OPS && !fin_empty(&in); op++) {
		uint8_t k = fin_u8(&in) % 15;
		uint64_t gpa;
		uint8_t bytes[255];
		unsigned n;

		switch (k) {
		case 0: {
			uint8_t *p;

			gpa = gpa_field(&in);
			n = fin_u8(&in);
			n = (unsigned)fin_bytes(&in, bytes, n);
			if ((p = gp(gpa, n)))
				memcpy(p, bytes, n);
			break;
		}
		case 1:
			put_desc(fz->desc_gpa + 16ULL * (fin_u16(&in) & (fz->num - 1)), &in);
			break;
		case 2:
			gpa = gpa_field(&in);
			put_desc(gpa + 16ULL * fin_u16(&in), &in);
			break;
		case 3:
			if (fz->packed) {
				packed_avail(fin_u16(&in));
				break;
			}
			put16(fz->avail_gpa + 4 + 2ULL * (fz->drv_avail_idx & (fz->num - 1)),
			      fin_u16(&in));
			put16(fz->avail_gpa + 2, ++fz->drv_avail_idx);
			break;
		case 4:
			fz->drv_avail_idx = fin_u16(&in);
			put16(fz->avail_gpa + 2, fz->drv_avail_idx);
			break;
		case 5:
			put16(fz->avail_gpa, fin_u16(&in));
			if (fz->packed)
				put16(fz->avail_gpa + 2, fin_u16(&in));
			else
				put16(fz->avail_gpa + 4 + 2ULL * fz->num, fin_u16(&in));
			break;
		case 6:
			if (!pop_some(fin_u8(&in) % 64 + 1))
				return 0; /* the datapath stops a broken ring */
			break;
		case 7:
			push_pending(&in);
			break;
		case 8:
			push_raw(&in);
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
			n = fin_u8(&in);
			if (n > fz->npending)
				n = fz->npending;
			usv_vringh_unpop(&fz->vr, n);
			fz->npending -= n;
			break;
		case 14:
			usv_vringh_remap(&fz->vr, fz->mem);
			usv_vringh_write_used_flags(&fz->vr);
			break;
		}
	}
	return 0;
}
