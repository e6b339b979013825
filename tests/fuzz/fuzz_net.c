/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the datapath's net handlers (src/datapath: net_tx.c,
 * net_rx.c, with ring.c, signal.c, worker.c and dev.c around them) against a
 * hostile guest and a hostile tap, driven through the seam's ops table as the
 * daemon drives it (usvhost/dp_seam.h: ring_start, ring_update, ring_sync,
 * ring_stop, dev_free), with the device's real worker thread and io_uring.
 *
 * Guest memory: three 64 KiB regions of one buffer with inaccessible pages
 * between them, as in fuzz_vring (gpa 0, gpa 64 KiB, the top 64 KiB below
 * 2^64). Each region is mapped (memcpy) or "procmem" (reached through this
 * process's own /proc/self/mem, the owner's pinned memfd): the TX bounce
 * arena and the RX copies take the second path. Ring addresses outside guest
 * memory are owner addresses in a reserved inaccessible hole, reached through
 * /proc/self/mem as QEMU's memory outside its RAM would be.
 *
 * The tap: an AF_UNIX SOCK_SEQPACKET socketpair. It keeps frame boundaries,
 * cuts a frame read into a shorter buffer as tun does (read returns the
 * buffer's length), takes preadv2(RWF_NOWAIT) and io_uring writes as a tap
 * does, and both ends are this process's to fill and drain. The datapath is
 * told it is a tap (backend_packet false); it never checks the fd's kind.
 * "Full": the harness sends filler messages on the datapath's end until its
 * send buffer is used up, so the datapath's writes get EAGAIN until the
 * harness drains them. Its end is blocking or O_NONBLOCK (QEMU's taps are),
 * as the header says: a blocking one makes io_uring wait for room, a
 * non-blocking one makes the retried write fail (a drop).
 *
 * Input: a header, then operations until the input ends.
 *   header: u8 per ring (RX, TX): log2(num) (num = 1 << (v % 9): 1..256);
 *              bit 7 of RX's: packed rings (below), num from bits 0-6
 *           u8 features: bit 0 MRG_RXBUF, 1 EVENT_IDX, 2 INDIRECT_DESC,
 *              3 VERSION_1, 4 VHOST_NET_F_VIRTIO_NET_HDR (vhost adds the
 *              header: vhost_hlen 10 or 12, else sock_hlen), 5 LOG_ALL with a
 *              log base, 6 VHOST_VRING_F_LOG (used ring logged), 7
 *              NOTIFY_ON_EMPTY
 *           u8 misc: bits 0-2 region i reached through procmem, bit 3 tap end
 *              O_NONBLOCK, bits 4-7 busy poll (0-15 us)
 *           per ring (RX, TX): gpa desc, gpa avail, gpa used (u32 "gpa" as in
 *              fuzz_vring), u16 start avail index, u16 start used index
 *   operations, one u8 (mod 16) each; "ring" is a u8, bit 0: TX, else RX:
 *     0 poke: gpa, u8 len, bytes             (guest writes raw memory)
 *     1 desc: ring, u16 i, 16 bytes           (the ring's descriptor i)
 *     2 ind: gpa table, u16 i, 16 bytes       (an indirect entry)
 *     3 avail: ring, u16 head                 (ring[idx % num], idx++)
 *     4 avail idx: ring, u16
 *     5 flags: ring, u16 avail->flags, u16 used_event
 *     6 kick: u8 (bit 0 RX, bit 1 TX)
 *     7 frame: u8 kind, u16 len, u8 n, n bytes of pattern (the tap sends a
 *       frame; kind % 4: 1 + len % 2048; len (at least 1);
 *       USV_DP_FRAME_MAX - 8 + len % 16; USV_DP_FRAME_MAX + 1 + len % 4096)
 *     8 tap full on (bit 0 of a u8 set) / off
 *     9 stop: ring                            (ring_stop, GET_VRING_BASE)
 *     10 start: ring, u8 (bit 0: then u16 avail, u16 used: SET_VRING_BASE)
 *     11 sync: ring                           (ring_sync)
 *     12 update: ring, u8 what: bit 0 kick fd on/off, 1 call, 2 err, 3
 *        addresses (3 gpa), 4 features (u8 as in the header, both rings),
 *        5 log base on/off, 6 busy poll (u8)
 *     13 memory table swap: u8 (bits 0-2 procmem per region, bit 3 without
 *        the top region)
 *     14 settle (wait for the worker and drain the tap)
 *     15 kick both and settle twice
 * Packed rings (VIRTIO_F_RING_PACKED, both rings, the whole input; the
 * usvhost profile offers it with every feature above, and no IOTLB is
 * involved here, which SET_FEATURES would refuse with it) read the same
 * operations their way. "avail" and "used" are the driver and device event
 * structures (4-byte aligned); the start indexes, and those of 10, are
 * positions as QEMU encodes them in SET_VRING_BASE: slot | wrap << 15.
 *     1 desc, 2 ind: a slot or entry raw (u64 addr, u32 len, u16 id, u16
 *       flags, AVAIL/USED bits included: any wrap bits are reachable)
 *     3 avail: ring, u16 v: the chain of 1 + (v & 0xff) % num slots at the
 *       driver's position is made available with the right wrap bits (each
 *       keeps its WRITE and INDIRECT flags, NEXT on all but the last, the
 *       head's flags written last); the position moves past it
 *     4 the driver's position = u16 (nothing written)
 *     5 flags: ring, u16 off_wrap, u16 flags (the driver event)
 *   Feature updates (12) keep the packed ring.
 * After each operation that wakes the worker the harness waits until it is
 * idle, draining the tap unless it is full: within 5 s, or it is a failure;
 * 5 ms when a used ring overlaps an avail ring, since our own used writes
 * may then keep making buffers available and the ring is requeued after each
 * weight's worth forever, as in the kernel. At the end every running ring is
 * stopped and the device freed.
 *
 * Checked beyond the sanitizers, by wrapping (ld --wrap) the ring walker's
 * pop, unpop and push, and the handlers, as the datapath calls them:
 *  - a used entry is for the oldest chain popped and not yet used, in order
 *    (so its id is below num and the used index advances by at most the
 *    chains consumed); TX used lengths are 0, RX ones at most the chain's
 *    writable bytes;
 *  - one handler call pops at most its weight (packets or descriptors) plus
 *    one batch or frame, and reads at most as many descriptors more;
 *  - RX: the bytes published in a call are its delivered frames plus a
 *    header each; every frame the tap sent is delivered, dropped (stats) or
 *    still in the tap at the end;
 *  - TX: every frame the tap gets is at most USV_DP_FRAME_MAX and is the
 *    readable bytes (past the vhost header) of a chain popped, in the same
 *    bytes when the guest has not written since; at the end frames received
 *    == packets and chains not received == drops;
 *  - ring_stop and ring_sync return the indexes the walker holds: start +
 *    chains popped - given back, start + entries published.
 * Packed, beyond these: each pop starts where the walker must stand and
 * moves it by 1..num slots (no more than the descriptors it read), a failed
 * one not at all; giving chains back moves it back by their slots; the
 * walker's chains and slots in flight are those popped and not used; a push
 * moves the used position by the slots of the chains it uses, and each
 * used element reads back (where the guest cannot write meanwhile) with
 * the chain's id and length and AVAIL == USED == the wrap counter of its
 * position; stop and sync return those positions.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/guestmem.h"
#include "core/log.h"
#include "datapath/dp_internal.h"
#include "usvhost/vringh.h"
#include "fuzz.h"

#define PAGE 4096u
#define REGION_SIZE (64u * 1024)
#define NREGIONS 3
#define TOP_GPA (0ULL - REGION_SIZE)
#define BUF_SIZE (NREGIONS * (REGION_SIZE + PAGE) + PAGE)
/* Owner addresses outside guest memory: gpa & (HOLE_SIZE - 1) into a reserved
 * inaccessible hole, with room past its end for the longest ring part. */
#define HOLE_SIZE (1u << 20)
#define HOLE_MAP (HOLE_SIZE + 64u * 1024)
/* The dirty bitmap covers every guest address below 2^31 + 64 KiB (what a
 * "gpa" field gives, but the top region's, whose bits lie out of reach):
 * the core only accepts a log base that covers the used ring. The datapath
 * writes it through /proc/self/mem, which would not stop at its end. */
#define LOG_SIZE (128u * 1024)

#define MAX_OPS 128
#define FIFO_MAX 4096    /* chains popped and not yet used, per ring */
#define EXPECT_MAX 8192  /* TX chains sent per input */
#define RECV_MAX 2048    /* frames drained between two checks */
#define FILL_LEN 60000   /* a filler message (tap full) */
#define INJECT_MAX (USV_DP_FRAME_MAX + 4096)
#define SETTLE_MS 5000   /* the worker must be idle by then */
#define SPIN_MS 5        /* how long to wait for a ring that may never idle */

static const uint64_t region_gpa[NREGIONS] = { 0, REGION_SIZE, TOP_GPA };

struct popped {
	uint16_t head;
	uint16_t slots; /* packed: the ring slots the chain took */
	uint32_t in_len;
};

/* A TX chain popped whose frame the tap should get (or a drop). */
struct expect {
	uint32_t len;
	uint64_t hash;
	uint64_t gen;   /* guest writes by then */
	bool oversize;  /* longer than a frame: never sent */
	bool matched;
};

struct received {
	uint32_t len;
	uint64_t hash;
};

/* The harness's view of one ring. */
struct fring {
	bool running;
	uint32_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t drv_avail_idx;    /* packed: the driver's position */
	struct usv_ring_base base; /* at the last start, stop or sync */
	uint16_t start_avail, start_used;
	/* Written by the worker (wrappers), read by the harness after a
	 * message round trip. */
	uint64_t pops, unpops, pushed;
	struct popped fifo[FIFO_MAX];
	unsigned fhead, fcount;
	uint32_t fslots;           /* packed: the slots of those chains */
	uint16_t pos_avail, pos_used; /* packed: where the walker must stand */
	uint64_t call_pops, call_descs, call_push_bytes;
	uint64_t push_entries; /* attempted, since the input began */
	int kick, call, err;   /* eventfds */
	bool kick_on, call_on, err_on;
};

struct fz {
	/* Odd while the harness runs an operation (it may write guest memory
	 * then), bumped before and after each: a check that reads back what
	 * the worker wrote trusts it only if no operation ran meanwhile. */
	uint64_t op_seq;
	uint8_t *buf;
	uint8_t *local[NREGIONS];
	uint8_t *hole;     /* owner addresses outside guest memory */
	uint8_t *logbuf;   /* the dirty log's bitmap (owner memory) */
	int procfd;        /* /proc/self/mem: the owner's pinned memfd */
	struct usv_guestmem *mem;
	struct usv_dp *dp;
	const struct usv_datapath_ops *ops;
	char devkey;       /* its address is the device's identity */
	struct usv_dp_dev *d;
	int sv[2];         /* [0] the datapath's end, [1] the harness's */
	int logfd;
	struct fring ring[USV_NET_NVQS];
	uint8_t feat;
	bool packed;       /* VIRTIO_F_RING_PACKED, for the whole input */
	uint32_t busyloop;
	bool log_on;
	bool full;
	bool busy;         /* the last settle gave up on a ring that feeds itself */
	unsigned nfill;
	uint64_t gen;      /* guest writes (and pending TX writes overtaken) */
	/* TX frames */
	struct expect ex[EXPECT_MAX];
	unsigned nex, ex_front;
	bool ex_overflow;
	struct received rcv[RECV_MAX];
	unsigned nrcv;
	bool rcv_overflow;
	uint64_t frames_rx_total;
	uint64_t injected;
	uint64_t ring_errors;
	uint8_t popbuf[USV_DP_FRAME_MAX];   /* worker: a TX chain's bytes */
	uint8_t rbuf[INJECT_MAX];           /* harness: drained frame */
	uint8_t ibuf[INJECT_MAX];           /* harness: frame to send */
	uint8_t fillbuf[FILL_LEN];
	bool verbose;
};

static struct fz *fz;

#define VLOG(...)                                                               \
	do {                                                                    \
		if (fz->verbose)                                                \
			fprintf(stderr, "fuzz_net: " __VA_ARGS__);              \
	} while (0)

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		h = (h ^ v) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* ---- guest memory ---------------------------------------------------------- */

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

/* The avail ring is 2-byte aligned; the packed driver event, read as one
 * word, 4 (SET_VRING_ADDR refuses less). */
static uint64_t avail_align(void)
{
	return fz->packed ? ~3ULL : ~1ULL;
}

/* The owner's address of a ring part: RAM's, or a hole's outside it. */
static uint64_t ring_uva(uint64_t gpa)
{
	uint8_t *p = gp(gpa, 1);

	if (p)
		return (uintptr_t)p;
	return (uintptr_t)fz->hole + (gpa & (HOLE_SIZE - 1));
}

static void guest_wrote(void)
{
	__atomic_add_fetch(&fz->gen, 1, __ATOMIC_RELAXED);
}

static void put16(uint64_t gpa, uint16_t v)
{
	uint8_t *p = gp(gpa, 2);

	if (p)
		__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
	guest_wrote();
}

static void put_desc(uint64_t gpa, struct fin *in)
{
	uint8_t d[16];
	uint8_t *p = gp(gpa, sizeof(d));

	fin_bytes(in, d, sizeof(d));
	if (p)
		memcpy(p, d, sizeof(d));
	guest_wrote();
}

/* The packed driver makes the chain of n = 1 + (v & 0xff) % num slots at
 * its position available: each slot keeps its WRITE and INDIRECT flags, gets
 * NEXT but the last, and AVAIL/USED for its lap; the head's flags go last,
 * with release. The position moves on (a slot beyond the ring counts from
 * its remainder, as a driver that lost count would). */
static void packed_publish(struct fring *f, uint16_t v)
{
	uint32_t n = 1 + (v & 0xff) % f->num;
	uint16_t pos = f->drv_avail_idx, head = 0;

	pos = (uint16_t)(((pos & (FUZZ_PACKED_WRAP - 1)) % f->num) | (pos & FUZZ_PACKED_WRAP));
	for (uint32_t k = 0; k < n; k++) {
		uint8_t *p = gp(f->desc_gpa + 16ULL * (pos & (FUZZ_PACKED_WRAP - 1)) + 14, 2);
		uint16_t fl = 0;

		if (p)
			fl = __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED) &
			     (USV_VRING_DESC_F_WRITE | USV_VRING_DESC_F_INDIRECT);
		fl |= k + 1 < n ? USV_VRING_DESC_F_NEXT : 0;
		fl |= pos & FUZZ_PACKED_WRAP ? USV_VRING_PACKED_DESC_F_AVAIL :
					       USV_VRING_PACKED_DESC_F_USED;
		if (k == 0)
			head = fl;
		else if (p)
			__atomic_store_n((uint16_t *)p, fl, __ATOMIC_RELAXED);
		pos = fuzz_packed_advance(pos, 1, f->num);
	}
	put16(f->desc_gpa + 16ULL * ((f->drv_avail_idx & (FUZZ_PACKED_WRAP - 1)) % f->num) + 14,
	      head);
	f->drv_avail_idx = pos;
}

/* A memory table over the same RAM; procmem bits choose each region's path. */
static struct usv_guestmem *new_table(unsigned bits)
{
	struct usv_vhost_memory_region r[NREGIONS];
	unsigned n = bits & 8 ? NREGIONS - 1 : NREGIONS;
	struct usv_guestmem *m;

	for (unsigned i = 0; i < n; i++)
		r[i] = (struct usv_vhost_memory_region){
			.guest_phys_addr = region_gpa[i],
			.memory_size = REGION_SIZE,
			.userspace_addr = (uintptr_t)fz->local[i],
		};
	if (usv_guestmem_new(r, n, &m))
		abort();
	m->memfd = fz->procfd;
	for (unsigned i = 0; i < n; i++) {
		bool proc = bits & (1u << i);

		m->regions[i].local = proc ? NULL : fz->local[i];
		m->regions[i].strategy = proc ? USV_MEM_PROCMEM : USV_MEM_MMAP;
		m->regions[i].writable = !proc;
	}
	return m;
}

/* ---- what the datapath does, seen through its calls (worker context) ------- */

static struct fring *fring_of(const struct usv_vringh *vr)
{
	const struct usv_dp_ring *r =
		(const struct usv_dp_ring *)((const char *)vr - offsetof(struct usv_dp_ring, vr));

	return &fz->ring[r->idx];
}

static const struct usv_dp_ring *dpring_of(const struct usv_vringh *vr)
{
	return (const struct usv_dp_ring *)((const char *)vr - offsetof(struct usv_dp_ring, vr));
}

static bool rings_feed_themselves(const struct usv_dp_ring *ring);

/* Packed: a pop moved the walker by the chain's slots, from where it must
 * stand; its chains in flight are the ones popped and not used. */
static uint16_t packed_popped(struct usv_vringh *vr, struct fring *f, uint16_t before,
			      int ret, const struct usv_chain *c)
{
	uint16_t after = vr->last_avail_idx;
	uint32_t slots = fuzz_packed_dist(before, after, vr->num);

	FUZZ_ASSERT(before == f->pos_avail, "pop at position 0x%x, walker should be at 0x%x",
		    before, f->pos_avail);
	if (ret) {
		FUZZ_ASSERT(after == before, "a failed pop (%d) moved 0x%x to 0x%x", ret, before,
			    after);
		return 0;
	}
	FUZZ_ASSERT((after & (FUZZ_PACKED_WRAP - 1)) < vr->num,
		    "position 0x%x outside the ring of %u", after, vr->num);
	FUZZ_ASSERT(slots >= 1 && slots <= vr->num && slots <= c->ndesc,
		    "a pop of %u descriptors moved 0x%x to 0x%x (ring of %u)", c->ndesc, before,
		    after, vr->num);
	f->pos_avail = fuzz_packed_advance(f->pos_avail, slots, vr->num);
	f->fslots += slots;
	FUZZ_ASSERT(vr->inflight_n == f->fcount + 1 && vr->inflight_slots == f->fslots,
		    "walker holds %u chains (%u slots), %u popped (%u slots) not used",
		    vr->inflight_n, vr->inflight_slots, f->fcount + 1, f->fslots);
	return (uint16_t)slots;
}

int __real_usv_vringh_pop(struct usv_vringh *vr, struct usv_chain *c);
int __wrap_usv_vringh_pop(struct usv_vringh *vr, struct usv_chain *c);
int __wrap_usv_vringh_pop(struct usv_vringh *vr, struct usv_chain *c)
{
	const struct usv_dp_ring *r = dpring_of(vr);
	struct fring *f = fring_of(vr);
	uint16_t before = vr->last_avail_idx, slots = 0;
	int ret = __real_usv_vringh_pop(vr, c);

	f->call_descs += c->ndesc;
	if (vr->packed)
		slots = packed_popped(vr, f, before, ret, c);
	if (ret)
		return ret;
	FUZZ_ASSERT(c->head < vr->num, "popped head %u, num %u", c->head, vr->num);
	FUZZ_ASSERT(f->fcount < FIFO_MAX, "%u chains popped and not used", f->fcount);
	f->fifo[(f->fhead + f->fcount++) % FIFO_MAX] =
		(struct popped){ .head = c->head, .slots = slots, .in_len = c->in_len };
	f->pops++;
	f->call_pops++;
	if (r->idx == USV_VQ_TX && !c->nin && c->out_len > r->vhost_hlen) {
		struct expect *e;
		uint32_t len = c->out_len - r->vhost_hlen;

		if (fz->nex == EXPECT_MAX) {
			fz->ex_overflow = true;
			return ret;
		}
		e = &fz->ex[fz->nex++];
		*e = (struct expect){ .len = len, .oversize = len > USV_DP_FRAME_MAX,
				      .gen = __atomic_load_n(&fz->gen, __ATOMIC_RELAXED) };
		if (!e->oversize && !usv_chain_read(c, r->vhost_hlen, fz->popbuf, len, vr->mem))
			e->hash = hash_bytes(fz->popbuf, len);
		else if (!e->oversize)
			e->gen = UINT64_MAX; /* unreadable: the datapath drops it */
	}
	return ret;
}

void __real_usv_vringh_unpop(struct usv_vringh *vr, unsigned n);
void __wrap_usv_vringh_unpop(struct usv_vringh *vr, unsigned n);
void __wrap_usv_vringh_unpop(struct usv_vringh *vr, unsigned n)
{
	struct fring *f = fring_of(vr);

	FUZZ_ASSERT(n <= f->fcount, "gives back %u chains, %u popped and not used", n,
		    f->fcount);
	FUZZ_ASSERT(dpring_of(vr)->idx == USV_VQ_RX || n == 0, "TX gives back %u chains", n);
	for (unsigned k = 0; vr->packed && k < n; k++) {
		uint16_t slots = f->fifo[(f->fhead + f->fcount - 1 - k) % FIFO_MAX].slots;

		f->pos_avail = fuzz_packed_retreat(f->pos_avail, slots, vr->num);
		f->fslots -= slots;
	}
	f->fcount -= n;
	f->unpops += n;
	__real_usv_vringh_unpop(vr, n);
	if (vr->packed)
		FUZZ_ASSERT(vr->last_avail_idx == f->pos_avail,
			    "gave back %u chains to 0x%x, should be at 0x%x", n,
			    vr->last_avail_idx, f->pos_avail);
}

/* Packed: the used elements just written, read back where nothing else
 * writes meanwhile (the guest is idle unless the rings feed themselves):
 * each at the slot of its position, with the position's wrap counter in
 * AVAIL and USED, the chain's id and length, WRITE when the length counts. */
static void packed_check_used(struct usv_vringh *vr, const uint16_t *pos,
			      const uint32_t *heads, const uint32_t *lens, unsigned n,
			      uint64_t seq)
{
	const struct usv_dp_ring *r = dpring_of(vr);
	struct {
		uint32_t len;
		uint16_t id, flags;
	} got[FIFO_MAX];

	if (rings_feed_themselves(r - r->idx) || (seq & 1))
		return;
	if (n > FIFO_MAX)
		n = FIFO_MAX;
	for (unsigned i = 0; i < n; i++) {
		uint64_t uva = vr->desc + 16ULL * (pos[i] & (FUZZ_PACKED_WRAP - 1));
		uint16_t want = (pos[i] & FUZZ_PACKED_WRAP ?
					 USV_VRING_PACKED_DESC_F_AVAIL | USV_VRING_PACKED_DESC_F_USED :
					 0) | (lens[i] ? USV_VRING_DESC_F_WRITE : 0);
		const uint8_t *p = NULL;

		for (unsigned k = 0; k < NREGIONS && !p; k++)
			if (uva >= (uintptr_t)fz->local[k] &&
			    uva + 16 <= (uintptr_t)fz->local[k] + REGION_SIZE)
				p = (const uint8_t *)(uintptr_t)uva;
		if (!p) {
			got[i].flags = want; /* outside RAM: not ours to read */
			got[i].id = (uint16_t)heads[i];
			got[i].len = lens[i];
			continue;
		}
		memcpy(&got[i].len, p + 8, 4);
		memcpy(&got[i].id, p + 12, 2);
		memcpy(&got[i].flags, p + 14, 2);
	}
	/* A guest write that raced with the worker's is the guest's right. */
	if (__atomic_load_n(&fz->op_seq, __ATOMIC_ACQUIRE) != seq)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint16_t want = (pos[i] & FUZZ_PACKED_WRAP ?
					 USV_VRING_PACKED_DESC_F_AVAIL | USV_VRING_PACKED_DESC_F_USED :
					 0) | (lens[i] ? USV_VRING_DESC_F_WRITE : 0);
		uint32_t len = got[i].len;
		uint16_t id = got[i].id, flags = got[i].flags;

		FUZZ_ASSERT(flags == want && id == (uint16_t)heads[i] && len == lens[i],
			    "used element %u at 0x%x: flags 0x%x id %u len %u, written 0x%x %u %u",
			    i, pos[i], flags, id, len, want, heads[i], lens[i]);
	}
}

int __real_usv_vringh_push(struct usv_vringh *vr, const uint32_t *heads,
			   const uint32_t *lens, unsigned n);
int __wrap_usv_vringh_push(struct usv_vringh *vr, const uint32_t *heads,
			   const uint32_t *lens, unsigned n);
int __wrap_usv_vringh_push(struct usv_vringh *vr, const uint32_t *heads,
			   const uint32_t *lens, unsigned n)
{
	bool tx = dpring_of(vr)->idx == USV_VQ_TX;
	struct fring *f = fring_of(vr);
	uint16_t pos[FIFO_MAX], next = vr->last_used_idx;
	uint64_t seq;
	int ret;

	if (vr->packed)
		FUZZ_ASSERT(next == f->pos_used, "push at 0x%x, walker should be at 0x%x", next,
			    f->pos_used);
	for (unsigned i = 0; i < n; i++) {
		struct popped *p = &f->fifo[f->fhead];

		FUZZ_ASSERT(f->fcount > 0, "used entry %u of %u (head %u) for no chain popped",
			    i, n, heads[i]);
		FUZZ_ASSERT(heads[i] == p->head, "used entry for head %u, oldest chain is %u",
			    heads[i], p->head);
		if (tx)
			FUZZ_ASSERT(lens[i] == 0, "TX used length %u", lens[i]);
		else
			FUZZ_ASSERT(lens[i] <= p->in_len, "RX used length %u, chain has %u",
				    lens[i], p->in_len);
		f->call_push_bytes += lens[i];
		if (vr->packed && i < FIFO_MAX) {
			/* Each element skips its chain's slots. */
			pos[i] = next;
			next = fuzz_packed_advance(next, p->slots, vr->num);
			f->fslots -= p->slots;
		}
		f->fhead = (f->fhead + 1) % FIFO_MAX;
		f->fcount--;
	}
	f->push_entries += n;
	seq = __atomic_load_n(&fz->op_seq, __ATOMIC_ACQUIRE);
	ret = __real_usv_vringh_push(vr, heads, lens, n);
	if (!ret)
		f->pushed += n;
	if (!ret && vr->packed && n) {
		FUZZ_ASSERT(vr->last_used_idx == next,
			    "%u used elements from 0x%x moved the walker to 0x%x, not 0x%x", n,
			    f->pos_used, vr->last_used_idx, next);
		f->pos_used = next;
		packed_check_used(vr, pos, heads, lens, n, seq);
	}
	return ret;
}

void __wrap_usv_ring_report_error(struct usv_dev *dev, unsigned idx, const char *why);
void __wrap_usv_ring_report_error(struct usv_dev *dev, unsigned idx, const char *why)
{
	FUZZ_ASSERT(dev == (struct usv_dev *)&fz->devkey, "error reported for another device");
	fz->ring_errors++;
	VLOG("ring %u stopped: %s\n", idx, why);
}

static bool handle(struct usv_dp_ring *r, bool (*real)(struct usv_dp_ring *))
{
	struct fring *f = &fz->ring[r->idx];
	const struct usv_dp_ring *tx = r - r->idx + USV_VQ_TX; /* the device's rings */
	struct usv_dp_stats s0 = r->st;
	uint64_t chain_max = r->vr.num > USV_VRING_MIN_CHAIN_DESCS ? r->vr.num
								 : USV_VRING_MIN_CHAIN_DESCS;
	unsigned per_go = r->idx == USV_VQ_TX ? USV_DP_BATCH : USV_DP_MAX_CHAINS;
	uint32_t hlen = r->vhost_hlen;
	bool more;

	/* A TX write still waiting reads guest memory later than its pop:
	 * what runs meanwhile may change it. */
	if (tx->tx.inflight)
		guest_wrote();
	f->call_pops = f->call_descs = f->call_push_bytes = 0;
	more = real(r);
	FUZZ_ASSERT(f->call_pops <= USV_DP_WEIGHT_DESCS + per_go,
		    "vq %u: %llu chains in one go", r->idx, (unsigned long long)f->call_pops);
	FUZZ_ASSERT(f->call_descs < USV_DP_WEIGHT_DESCS + (per_go + 1) * (chain_max + 1),
		    "vq %u: %llu descriptors read in one go", r->idx,
		    (unsigned long long)f->call_descs);
	if (r->idx == USV_VQ_TX)
		FUZZ_ASSERT(f->call_pops <= USV_DP_WEIGHT_PKTS + USV_DP_BATCH,
			    "TX: %llu chains in one go", (unsigned long long)f->call_pops);
	else
		FUZZ_ASSERT(f->call_push_bytes ==
				    (r->st.packets - s0.packets) * hlen + (r->st.bytes - s0.bytes),
			    "RX published %llu bytes for %llu frames of %llu bytes (header %u)",
			    (unsigned long long)f->call_push_bytes,
			    (unsigned long long)(r->st.packets - s0.packets),
			    (unsigned long long)(r->st.bytes - s0.bytes), hlen);
	return more;
}

bool __real_usv_dp_handle_tx(struct usv_dp_ring *r);
bool __real_usv_dp_handle_rx(struct usv_dp_ring *r);
bool __wrap_usv_dp_handle_tx(struct usv_dp_ring *r);
bool __wrap_usv_dp_handle_rx(struct usv_dp_ring *r);
bool __wrap_usv_dp_handle_tx(struct usv_dp_ring *r)
{
	return handle(r, __real_usv_dp_handle_tx);
}

bool __wrap_usv_dp_handle_rx(struct usv_dp_ring *r)
{
	return handle(r, __real_usv_dp_handle_rx);
}

/* ---- the worker: idle, stats ------------------------------------------------ */

struct probe {
	bool idle;
	bool queued, completions; /* why not */
	unsigned tx_inflight;
	int first_idx, first_broken, first_running; /* the first ring queued */
	uint32_t busyloop;
	bool feeds; /* a used ring overlaps an avail ring */
	struct usv_dp_stats st[USV_NET_NVQS];
};

/* Does a used ring (which the datapath writes) overlap an avail ring (which
 * it reads), as the datapath holds them? Then its own writes may keep making
 * buffers available, and the ring may never go idle: the kernel too then
 * requeues it after each weight's worth, forever. */
static bool packed_rings_feed_themselves(const struct usv_dp_ring *ring);

static bool rings_feed_themselves(const struct usv_dp_ring *ring)
{
	if (fz->packed)
		return packed_rings_feed_themselves(ring);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct usv_vringh *u = &ring[i].vr;
		uint64_t u1 = u->used + 6 + 8ULL * u->num;

		for (unsigned j = 0; ring[i].running && j < USV_NET_NVQS; j++) {
			const struct usv_vringh *a = &ring[j].vr;
			uint64_t a1 = a->avail + 6 + 2ULL * a->num;

			if (ring[j].running && u->used < a1 && a->avail < u1)
				return true;
		}
	}
	return false;
}

/* Packed: the used elements only ever mark slots used (never available),
 * but the device event word a ring writes may land on a descriptor's flags
 * or on a driver event: then count it as feeding, conservatively. */
static bool packed_rings_feed_themselves(const struct usv_dp_ring *ring)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		uint64_t e = ring[i].vr.used;

		for (unsigned j = 0; ring[i].running && j < USV_NET_NVQS; j++) {
			const struct usv_vringh *a = &ring[j].vr;
			uint64_t d1 = a->desc + 16ULL * a->num;

			if (ring[j].running &&
			    ((e < d1 && a->desc < e + 4) || (e < a->avail + 4 && a->avail < e + 4)))
				return true;
		}
	}
	return false;
}

static void probe_fn(void *arg)
{
	struct probe *p = arg;
	struct usv_worker *w = &fz->d->w;
	const struct usv_dp_ring *tx = &fz->d->ring[USV_VQ_TX];

	p->queued = w->work_head != NULL;
	p->first_idx = w->work_head ? (int)w->work_head->idx : -1;
	p->first_broken = w->work_head ? w->work_head->broken : -1;
	p->first_running = w->work_head ? w->work_head->running : -1;
	p->busyloop = w->work_head ? w->work_head->busyloop_us : 0;
	p->feeds = rings_feed_themselves(fz->d->ring);
	p->completions = io_uring_cq_ready(&w->uring) != 0;
	p->tx_inflight = tx->tx.inflight;
	p->idle = !p->queued && !p->completions && (!p->tx_inflight || fz->full);
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		p->st[i] = fz->d->ring[i].st;
}

static void do_probe(struct probe *p)
{
	usv_dp_send(&fz->d->w, probe_fn, p);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads what the datapath sent to the tap (not while it is full). */
static void drain_tap(void)
{
	for (;;) {
		ssize_t n = recv(fz->sv[1], fz->rbuf, sizeof(fz->rbuf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0)
			break;
		if (fz->nfill) {
			FUZZ_ASSERT(n == FILL_LEN, "a filler came back as %zd bytes", n);
			fz->nfill--;
			continue;
		}
		FUZZ_ASSERT(n <= USV_DP_FRAME_MAX, "the tap got a frame of %zd bytes", n);
		fz->frames_rx_total++;
		if (fz->nrcv == RECV_MAX) {
			fz->rcv_overflow = true;
			continue;
		}
		fz->rcv[fz->nrcv++] = (struct received){
			.len = (uint32_t)n, .hash = hash_bytes(fz->rbuf, (size_t)n) };
	}
}

/* Each frame received is a chain popped, in the same bytes unless the
 * guest wrote since. */
static void match_frames(void)
{
	uint64_t gen = __atomic_load_n(&fz->gen, __ATOMIC_RELAXED);

	for (unsigned k = 0; k < fz->nrcv && !fz->ex_overflow && !fz->rcv_overflow; k++) {
		const struct received *rc = &fz->rcv[k];
		unsigned seen = 0, i;
		bool found = false;

		for (i = fz->ex_front; i < fz->nex && seen < 4 * USV_DP_BATCH; i++) {
			struct expect *e = &fz->ex[i];

			if (e->matched || e->oversize)
				continue;
			seen++;
			if (e->len != rc->len || (e->gen == gen && e->hash != rc->hash))
				continue;
			e->matched = true;
			found = true;
			break;
		}
		FUZZ_ASSERT(found, "the tap got a frame of %u bytes that no chain popped had",
			    rc->len);
		while (fz->ex_front < fz->nex &&
		       (fz->ex[fz->ex_front].matched || fz->ex[fz->ex_front].oversize))
			fz->ex_front++;
	}
	fz->nrcv = 0;
}

/* Waits until the worker has nothing to do (a TX write waiting on a full
 * tap is nothing to do), draining the tap meanwhile. */
static void settle(void)
{
	int64_t start = now_us();
	unsigned round = 0;

	fz->busy = false;
	if (!fz->d)
		return;
	for (;;) {
		struct probe p;

		if (!fz->full)
			drain_tap();
		do_probe(&p);
		if (p.idle)
			break;
		if (p.feeds && now_us() - start >= SPIN_MS * 1000) {
			fz->busy = true; /* the worker still runs: check later */
			return;
		}
		FUZZ_ASSERT(now_us() - start < SETTLE_MS * 1000,
			    "the worker is still busy after %d ms (rings queued: %d, first vq %d "
			    "broken %d running %d busyloop %u us; completions: %d, TX writes: %u)",
			    SETTLE_MS, p.queued, p.first_idx, p.first_broken, p.first_running,
			    p.busyloop, p.completions, p.tx_inflight);
		if (round++ < 4)
			sched_yield();
		else
			usleep(round < 20 ? 20 : 200);
	}
	if (!fz->full)
		drain_tap();
	match_frames();
}

/* ---- the seam -------------------------------------------------------------- */

static uint64_t features_of(uint8_t f)
{
	uint64_t v = 0;

	if (f & 1)
		v |= USV_BIT(USV_F_NET_MRG_RXBUF);
	if (f & 2)
		v |= USV_BIT(USV_F_RING_EVENT_IDX);
	if (f & 4)
		v |= USV_BIT(USV_F_RING_INDIRECT_DESC);
	if (f & 8)
		v |= USV_BIT(USV_F_VERSION_1);
	if (f & 16)
		v |= USV_BIT(USV_F_NET_VIRTIO_NET_HDR);
	if (f & 32)
		v |= USV_BIT(USV_F_LOG_ALL);
	if (f & 128)
		v |= USV_BIT(USV_F_NOTIFY_ON_EMPTY);
	if (fz->packed)
		v |= USV_BIT(USV_F_RING_PACKED);
	return v;
}

/* The ring's configuration as the core would hand it over. */
static void make_config(unsigned idx, struct usv_ring_config *cfg)
{
	struct fring *f = &fz->ring[idx];
	uint32_t hdr = fz->feat & (1 | 8) ? 12 : 10;

	*cfg = (struct usv_ring_config){
		.handle = 1,
		.index = idx,
		.num = f->num,
		.desc = ring_uva(f->desc_gpa),
		.avail = ring_uva(f->avail_gpa),
		.used = ring_uva(f->used_gpa),
		.log_used = fz->feat & 64,
		.log_addr = f->used_gpa,
		.log_base = fz->log_on ? (uintptr_t)fz->logbuf : 0,
		.log_fd = fz->log_on ? fz->logfd : -1,
		.kick_fd = f->kick_on ? f->kick : -1,
		.call_fd = f->call_on ? f->call : -1,
		.err_fd = f->err_on ? f->err : -1,
		.backend_fd = fz->sv[0],
		.backend_packet = false,
		.features = features_of(fz->feat),
		.vhost_hlen = fz->feat & 16 ? hdr : 0,
		.sock_hlen = fz->feat & 16 ? 0 : hdr,
		.busyloop_us = fz->busyloop,
		.mem = fz->mem,
		.owner_memfd = fz->procfd,
		.owner_tgid = getpid(),
		.base = f->base,
	};
	snprintf(cfg->backend_name, sizeof(cfg->backend_name), "tap:fuzz");
}

static struct usv_dev *devkey(void)
{
	return (struct usv_dev *)&fz->devkey;
}

static void ring_start(unsigned idx)
{
	struct fring *f = &fz->ring[idx];
	struct usv_ring_config cfg;
	int ret;

	if (f->running)
		return;
	make_config(idx, &cfg);
	f->start_avail = f->base.last_avail_idx;
	f->start_used = f->base.last_used_idx;
	f->pops = f->unpops = f->pushed = 0;
	f->fcount = f->fhead = 0;
	f->fslots = 0;
	f->pos_avail = f->base.last_avail_idx;
	f->pos_used = f->base.last_used_idx;
	ret = fz->ops->ring_start(fz->dp, devkey(), &cfg);
	FUZZ_ASSERT(ret == 0, "ring_start: %d", ret);
	f->running = true;
	if (!fz->d)
		for (fz->d = fz->dp->devs; fz->d && fz->d->key != devkey(); fz->d = fz->d->next)
			;
	FUZZ_ASSERT(fz->d != NULL, "no device state after ring_start");
	VLOG("start vq %u at %u/%u\n", idx, f->base.last_avail_idx, f->base.last_used_idx);
}

/* What ring_stop and ring_sync answer is where the walker stands. */
static void check_base(unsigned idx, const struct usv_ring_base *b, const char *what)
{
	const struct fring *f = &fz->ring[idx];
	uint16_t avail = (uint16_t)(f->start_avail + f->pops - f->unpops);
	uint16_t used = (uint16_t)(f->start_used + f->pushed);

	if (fz->packed) {
		/* Positions moved by each chain's slots (checked at each call). */
		avail = f->pos_avail;
		used = f->pos_used;
	}

	FUZZ_ASSERT(b->last_avail_idx == avail, "%s vq %u: last_avail_idx %u, walker at %u",
		    what, idx, b->last_avail_idx, avail);
	FUZZ_ASSERT(b->last_used_idx == used, "%s vq %u: last_used_idx %u, published %u",
		    what, idx, b->last_used_idx, used);
}

static void ring_stop(unsigned idx)
{
	struct fring *f = &fz->ring[idx];

	if (!f->running)
		return;
	fz->ops->ring_stop(fz->dp, devkey(), idx, &f->base);
	f->running = false;
	check_base(idx, &f->base, "stop");
	/* The stop finished the TX batch: every chain taken is used, but one
	 * that broke the ring. */
	if (idx == USV_VQ_TX)
		FUZZ_ASSERT(f->fcount <= 1, "TX stopped with %u chains not used", f->fcount);
	VLOG("stop vq %u at %u/%u\n", idx, f->base.last_avail_idx, f->base.last_used_idx);
}

static void ring_sync(unsigned idx)
{
	struct fring *f = &fz->ring[idx];
	struct usv_ring_base b = f->base;

	if (!f->running)
		return;
	settle();
	fz->ops->ring_sync(fz->dp, devkey(), idx, &b);
	if (!fz->busy)
		check_base(idx, &b, "sync");
}

static void ring_update(unsigned idx, struct fin *in)
{
	struct fring *f = &fz->ring[idx];
	uint8_t what = fin_u8(in);
	unsigned mask = 0;
	struct usv_ring_config cfg;

	if (what & 1) {
		f->kick_on = !f->kick_on;
		mask |= USV_RING_KICK;
	}
	if (what & 2) {
		f->call_on = !f->call_on;
		mask |= USV_RING_CALL;
	}
	if (what & 4) {
		f->err_on = !f->err_on;
		mask |= USV_RING_ERR;
	}
	if (what & 8) {
		f->desc_gpa = gpa_field(in) & ~15ULL;
		f->avail_gpa = gpa_field(in) & avail_align();
		f->used_gpa = gpa_field(in) & ~3ULL;
		mask |= USV_RING_ADDR;
	}
	if (what & 16) {
		fz->feat = fin_u8(in);
		mask |= USV_RING_FEATURES;
	}
	if (what & 32) {
		fz->log_on = !fz->log_on;
		mask |= USV_RING_LOG;
	}
	if (what & 64) {
		fz->busyloop = fin_u8(in) % 16;
		mask |= USV_RING_BUSYLOOP;
	}
	guest_wrote();
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		unsigned m = i == idx ? mask : mask & (USV_RING_FEATURES | USV_RING_LOG);

		if (!fz->ring[i].running || !m)
			continue;
		make_config(i, &cfg);
		fz->ops->ring_update(fz->dp, devkey(), m, &cfg);
	}
}

static void mem_swap(uint8_t bits)
{
	struct usv_guestmem *old = fz->mem;
	struct usv_ring_config cfg;

	fz->mem = new_table(bits);
	guest_wrote();
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		if (!fz->ring[i].running)
			continue;
		make_config(i, &cfg);
		fz->ops->ring_update(fz->dp, devkey(), USV_RING_MEM, &cfg);
	}
	usv_guestmem_free(old); /* as the core, once every ring let go */
}

/* ---- the tap --------------------------------------------------------------- */

static void inject(struct fin *in)
{
	uint8_t kind = fin_u8(in);
	uint16_t v = fin_u16(in);
	uint8_t pat[255];
	size_t n = fin_u8(in), len;

	n = fin_bytes(in, pat, n);
	/* Never empty: tun refuses frames shorter than their headers, and the
	 * datapath takes a read of 0 bytes for an empty tap. */
	switch (kind % 4) {
	case 0:
		len = 1 + v % 2048;
		break;
	case 1:
		len = v ? v : 1;
		break;
	case 2:
		len = USV_DP_FRAME_MAX - 8 + v % 16;
		break;
	default:
		len = USV_DP_FRAME_MAX + 1 + v % 4096;
		break;
	}
	for (size_t i = 0; i < len; i++)
		fz->ibuf[i] = n ? pat[i % n] : (uint8_t)(i * 7 + kind);
	if (send(fz->sv[1], fz->ibuf, len, MSG_DONTWAIT) == (ssize_t)len)
		fz->injected++;
}

static void tap_full(bool on)
{
	if (on == fz->full)
		return;
	if (on) {
		/* Everything sent so far is drained: fillers come first. */
		settle();
		memset(fz->fillbuf, 0xf1, sizeof(fz->fillbuf));
		for (unsigned i = 0; i < 16; i++) {
			if (send(fz->sv[0], fz->fillbuf, FILL_LEN, MSG_DONTWAIT) != FILL_LEN)
				break;
			fz->nfill++;
		}
		fz->full = true;
	} else {
		fz->full = false;
		settle();
	}
}

/* ---- one input -------------------------------------------------------------- */

static void kick(unsigned bits)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		if (bits & (1u << i) && fz->ring[i].running)
			if (write(fz->ring[i].kick, &one, sizeof(one)) != sizeof(one))
				abort();
	settle();
}

static void setup(struct fin *in)
{
	uint8_t misc;
	int fl;

	for (unsigned i = 0; i < NREGIONS; i++)
		memset(fz->local[i], 0, REGION_SIZE);
	memset(fz->logbuf, 0, LOG_SIZE);
	/* Bit 7 of the first byte chooses the packed ring (no earlier seed
	 * sets it). */
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		uint8_t v = fin_u8(in);

		if (i == 0)
			fz->packed = v & 0x80;
		fz->ring[i].num = 1u << ((v & 0x7f) % 9);
	}
	fz->feat = fin_u8(in);
	misc = fin_u8(in);
	fz->busyloop = misc >> 4;
	fz->log_on = fz->feat & 32;
	fz->mem = new_table(misc & 7);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fz->sv))
		abort();
	fl = fcntl(fz->sv[0], F_GETFL);
	if (misc & 8)
		fcntl(fz->sv[0], F_SETFL, fl | O_NONBLOCK);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct fring *f = &fz->ring[i];

		f->desc_gpa = gpa_field(in) & ~15ULL;
		f->avail_gpa = gpa_field(in) & avail_align();
		f->used_gpa = gpa_field(in) & ~3ULL;
		f->base = (struct usv_ring_base){ .last_avail_idx = fin_u16(in) };
		f->base.avail_idx = f->base.last_avail_idx;
		f->base.last_used_idx = fin_u16(in);
		f->drv_avail_idx = f->base.last_avail_idx;
		if (!fz->packed) {
			put16(f->avail_gpa + 2, f->drv_avail_idx);
			put16(f->used_gpa + 2, f->base.last_used_idx);
		}
		f->running = false;
		f->kick_on = f->call_on = f->err_on = true;
		f->push_entries = 0;
	}
	fz->d = NULL;
	fz->full = false;
	fz->nfill = 0;
	fz->nex = fz->ex_front = fz->nrcv = 0;
	fz->ex_overflow = fz->rcv_overflow = false;
	fz->frames_rx_total = fz->injected = fz->ring_errors = 0;
}

/* Stops what runs, frees the device, and checks the totals. */
static void teardown(void)
{
	struct probe p = { 0 };
	uint64_t left = 0, matched = 0, unmatched = 0;

	if (fz->d) {
		fz->full = false;
		settle();
		for (unsigned i = 0; i < USV_NET_NVQS; i++)
			ring_stop(i);
		drain_tap();
		match_frames();
		do_probe(&p);
		fz->ops->dev_free(fz->dp, devkey());
		fz->d = NULL;
	}
	/* Frames the datapath never read. */
	while (recv(fz->sv[0], fz->rbuf, sizeof(fz->rbuf), MSG_DONTWAIT | MSG_TRUNC) >= 0)
		left++;
	for (unsigned i = 0; i < fz->nex; i++) {
		if (fz->ex[i].matched)
			matched++;
		else
			unmatched++;
	}
	VLOG("rx: injected %llu, delivered %llu, dropped %llu, left %llu; tx: chains %u, "
	     "frames %llu, packets %llu, drops %llu; ring errors %llu\n",
	     (unsigned long long)fz->injected, (unsigned long long)p.st[USV_VQ_RX].packets,
	     (unsigned long long)p.st[USV_VQ_RX].drops, (unsigned long long)left, fz->nex,
	     (unsigned long long)fz->frames_rx_total,
	     (unsigned long long)p.st[USV_VQ_TX].packets,
	     (unsigned long long)p.st[USV_VQ_TX].drops, (unsigned long long)fz->ring_errors);
	FUZZ_ASSERT(fz->injected == p.st[USV_VQ_RX].packets + p.st[USV_VQ_RX].drops + left,
		    "tap sent %llu frames: %llu delivered, %llu dropped, %llu left",
		    (unsigned long long)fz->injected,
		    (unsigned long long)p.st[USV_VQ_RX].packets,
		    (unsigned long long)p.st[USV_VQ_RX].drops, (unsigned long long)left);
	FUZZ_ASSERT(fz->frames_rx_total == p.st[USV_VQ_TX].packets,
		    "the tap got %llu frames, TX counted %llu packets",
		    (unsigned long long)fz->frames_rx_total,
		    (unsigned long long)p.st[USV_VQ_TX].packets);
	FUZZ_ASSERT(fz->ring[USV_VQ_TX].push_entries ==
			    p.st[USV_VQ_TX].packets + p.st[USV_VQ_TX].drops,
		    "TX used %llu chains, counted %llu packets and %llu drops",
		    (unsigned long long)fz->ring[USV_VQ_TX].push_entries,
		    (unsigned long long)p.st[USV_VQ_TX].packets,
		    (unsigned long long)p.st[USV_VQ_TX].drops);
	if (!fz->ex_overflow && !fz->rcv_overflow)
		FUZZ_ASSERT(matched == p.st[USV_VQ_TX].packets && unmatched == p.st[USV_VQ_TX].drops,
			    "TX: %llu chains sent, %llu not; counted %llu packets, %llu drops",
			    (unsigned long long)matched, (unsigned long long)unmatched,
			    (unsigned long long)p.st[USV_VQ_TX].packets,
			    (unsigned long long)p.st[USV_VQ_TX].drops);
	close(fz->sv[0]);
	close(fz->sv[1]);
	usv_guestmem_free(fz->mem);
	fz->mem = NULL;
}

static int open_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		abort();
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct usv_dp_config dcfg = { 0 };

	(void)argc;
	(void)argv;
	usv_log_setup(USV_LOG_ERR, false);
	fz = calloc(1, sizeof(*fz));
	if (!fz)
		abort();
	fz->buf = mmap(NULL, BUF_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fz->hole = mmap(NULL, HOLE_MAP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			-1, 0);
	fz->logbuf = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (fz->buf == MAP_FAILED || fz->hole == MAP_FAILED || fz->logbuf == MAP_FAILED)
		abort();
	for (unsigned i = 0; i < NREGIONS; i++) {
		fz->local[i] = fz->buf + PAGE + i * (REGION_SIZE + PAGE);
		if (mprotect(fz->local[i], REGION_SIZE, PROT_READ | PROT_WRITE))
			abort();
	}
	fz->procfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fz->procfd < 0)
		abort();
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		fz->ring[i].kick = open_eventfd();
		fz->ring[i].call = open_eventfd();
		fz->ring[i].err = open_eventfd();
	}
	fz->logfd = open_eventfd();
	if (usv_dp_create(&dcfg, &fz->dp))
		abort();
	fz->ops = usv_dp_ops();
	fz->verbose = getenv("FUZZ_VERBOSE") && strcmp(getenv("FUZZ_VERBOSE"), "0");
	return 0;
}

static unsigned ring_arg(struct fin *in)
{
	return fin_u8(in) & 1 ? USV_VQ_TX : USV_VQ_RX;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	bool writing = false;

	setup(&in);
	ring_start(USV_VQ_RX);
	ring_start(USV_VQ_TX);
	for (unsigned op = 0; op < MAX_OPS && !fin_empty(&in); op++) {
		uint8_t k = fin_u8(&in) % 16;
		struct fring *f;
		uint8_t bytes[255];
		uint64_t gpa;
		unsigned n, idx;

		/* Operations that write guest memory or change the table are
		 * bracketed in op_seq (odd while one runs). */
		if (writing)
			__atomic_add_fetch(&fz->op_seq, 1, __ATOMIC_RELEASE);
		writing = k <= 5 || k == 12 || k == 13;
		if (writing)
			__atomic_add_fetch(&fz->op_seq, 1, __ATOMIC_RELEASE);
		switch (k) {
		case 0: {
			uint8_t *p;

			gpa = gpa_field(&in);
			n = fin_u8(&in);
			n = (unsigned)fin_bytes(&in, bytes, n);
			if ((p = gp(gpa, n)))
				memcpy(p, bytes, n);
			guest_wrote();
			break;
		}
		case 1:
			f = &fz->ring[ring_arg(&in)];
			put_desc(f->desc_gpa + 16ULL * (fin_u16(&in) & (f->num - 1)), &in);
			break;
		case 2:
			gpa = gpa_field(&in);
			put_desc(gpa + 16ULL * fin_u16(&in), &in);
			break;
		case 3:
			f = &fz->ring[ring_arg(&in)];
			if (fz->packed) {
				packed_publish(f, fin_u16(&in));
				break;
			}
			put16(f->avail_gpa + 4 + 2ULL * (f->drv_avail_idx & (f->num - 1)),
			      fin_u16(&in));
			put16(f->avail_gpa + 2, ++f->drv_avail_idx);
			break;
		case 4:
			f = &fz->ring[ring_arg(&in)];
			f->drv_avail_idx = fin_u16(&in);
			if (!fz->packed) /* packed: only where the driver goes on */
				put16(f->avail_gpa + 2, f->drv_avail_idx);
			break;
		case 5:
			f = &fz->ring[ring_arg(&in)];
			put16(f->avail_gpa, fin_u16(&in));
			if (fz->packed) /* the driver event: off_wrap, then flags */
				put16(f->avail_gpa + 2, fin_u16(&in));
			else
				put16(f->avail_gpa + 4 + 2ULL * f->num, fin_u16(&in));
			break;
		case 6:
			kick(fin_u8(&in) & 3);
			break;
		case 7:
			inject(&in);
			settle();
			break;
		case 8:
			tap_full(fin_u8(&in) & 1);
			break;
		case 9:
			ring_stop(ring_arg(&in));
			settle();
			break;
		case 10:
			idx = ring_arg(&in);
			if (fin_u8(&in) & 1) {
				uint16_t a = fin_u16(&in), u = fin_u16(&in);

				f = &fz->ring[idx];
				if (f->running)
					break; /* SET_VRING_BASE on a running ring: EBUSY */
				f->base.last_avail_idx = f->base.avail_idx = a;
				f->base.last_used_idx = u;
			}
			ring_start(idx);
			settle();
			break;
		case 11:
			ring_sync(ring_arg(&in));
			break;
		case 12:
			ring_update(ring_arg(&in), &in);
			settle();
			break;
		case 13:
			mem_swap(fin_u8(&in));
			settle();
			break;
		case 14:
			settle();
			break;
		case 15:
			kick(3);
			kick(3);
			break;
		}
	}
	if (writing)
		__atomic_add_fetch(&fz->op_seq, 1, __ATOMIC_RELEASE);
	teardown();
	return 0;
}
