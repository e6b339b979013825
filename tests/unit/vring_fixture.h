/* SPDX-License-Identifier: MIT */
/*
 * Guest memory for the ring tests (test_vring.c: the split ring,
 * test_vring_packed.c: the packed ring), each test playing the driver.
 *
 * A buffer described by a two-region table: region 0 is gpa [0, 2 MiB) at
 * buf, region 1 is gpa [2 MiB, 4 MiB) at buf + 2 MiB + 64 KiB. The regions
 * are adjacent in guest physical space but not in ours, so a buffer crossing
 * gpa 2 MiB must be split into two segments to be read right.
 *
 * Every ring case runs twice: with the regions "mapped" (each region's local
 * pointer set, accesses are memcpy) and "unmapped" (no local pointer, the
 * table's owner is this process: rings and indirect tables through
 * /proc/self/mem, as when QEMU's RAM is private).
 *
 * The ring's layout is the test's own: each program defines struct vt_drv
 * (the driver's view of its ring) and vt_drv_size; the fixture allocates one
 * per case at t->drv.
 */
#ifndef USV_TESTS_VRING_FIXTURE_H
#define USV_TESTS_VRING_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guestmem.h"
#include "usvhost/vringh.h"
#include "unit.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

#define R0_GPA 0ULL
#define R0_SIZE (2 * MiB)
#define R1_GPA (2 * MiB)
#define R1_SIZE (2 * MiB)
#define R1_OFF (2 * MiB + 64 * KiB)
#define BUF_SIZE (R1_OFF + R1_SIZE)
#define MEM_END (R1_GPA + R1_SIZE) /* first gpa outside guest memory */

#define RING_GPA 0x10000ULL  /* the ring, laid out by the test */
#define IND_GPA 0x30000ULL   /* indirect tables (up to 64 KiB) */
#define DATA_GPA 0x40000ULL  /* data buffers, up to 0x100000 */
#define BIG_GPA 0x100000ULL  /* 1 MiB tables */

#define F_EVENT_IDX USV_BIT(USV_F_RING_EVENT_IDX)
#define F_INDIRECT USV_BIT(USV_F_RING_INDIRECT_DESC)
#define F_NOTIFY_ON_EMPTY USV_BIT(USV_F_NOTIFY_ON_EMPTY)

#define D_NEXT USV_VRING_DESC_F_NEXT
#define D_WRITE USV_VRING_DESC_F_WRITE
#define D_INDIRECT USV_VRING_DESC_F_INDIRECT

/* Defined by each test program: its ring layout's driver state. */
struct vt_drv;
extern const size_t vt_drv_size;

struct vt {
	bool mapped;
	uint8_t *buf;
	struct usv_guestmem *m;
	struct usv_vringh vr;
	struct usv_chain c;
	struct usv_seg segs[USV_VRING_MAX_SEGS];
	uint32_t num;
	struct vt_drv *drv; /* zeroed at setup */
	pthread_mutex_t log_lock;
	uint8_t bitmap[256];
	int efd;        /* optional: a test's eventfd, closed at teardown */
	void *noaccess; /* optional: a test's PROT_NONE page, unmapped at teardown */
	int fds_at_start;
};

/* cmocka setups and teardown; the teardown fails a case that leaks an fd. */
int vt_setup_mapped(void **state);
int vt_setup_unmapped(void **state);
int vt_teardown(void **state);

#define BOTH(f)                                                                  \
	{ #f "/mapped", f, vt_setup_mapped, vt_teardown, NULL },                 \
	{ #f "/unmapped", f, vt_setup_unmapped, vt_teardown, NULL }
#define MAPPED(f) { #f, f, vt_setup_mapped, vt_teardown, NULL }
/* Rings out of the owner's reach exist only when not mapped here. */
#define UNMAPPED(f) { #f, f, vt_setup_unmapped, vt_teardown, NULL }

/* Where gpa is in buf (asserts it is in guest memory), and its uva. */
uint8_t *gp(struct vt *t, uint64_t gpa);
uint64_t uva_of(struct vt *t, uint64_t gpa);

/* The driver's ordered 16-bit stores and loads of the ring's fields. */
static inline void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

static inline uint16_t ld16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

/* Fills [gpa, gpa+len) with a pattern that depends on seed. */
void fill(struct vt *t, uint64_t gpa, size_t len, uint8_t seed);

/* usv_vringh_pop() into t->c, with all of t->segs. */
int pop(struct vt *t);

/* Segment k of the last chain is [gpa, gpa+len), reachable the strategy's way. */
void seg_is(struct vt *t, unsigned k, uint64_t gpa, uint32_t len);

/* The last chain: its head (buffer id), its out and in segments and bytes. */
void chain_is(struct vt *t, uint16_t head, unsigned nout, uint32_t out_len, unsigned nin,
	      uint32_t in_len);

/* A pop that fails: its errno, a message naming the problem (word, or any
 * message when NULL), and the position (last_avail_idx) left where it was. */
void pop_fails(struct vt *t, int err, const char *word);

#endif
