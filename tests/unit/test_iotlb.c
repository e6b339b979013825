/* SPDX-License-Identifier: MIT */
/*
 * The device IOTLB and its message channel: the table's rules
 * (core/iotlb.c: overlaps, the oldest first, retirement at the limit, the
 * whole space split in two, translation with permissions and misses), and
 * what a client sees through write()/read()/poll() (core/vhost_chr.c): the
 * IOTLB set up by SET_FEATURES with ACCESS_PLATFORM, the kernel's errno for
 * each message, MISS messages in the negotiated framing, poll readiness,
 * blocking reads, RESET_OWNER.
 * The device runs under a profile of this test's that offers
 * ACCESS_PLATFORM; the caller and helpers: ioctl_fixture.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/iotlb.h"
#include "core/vhost_chr.h"
#include "ioctl_fixture.h"

#define AP USV_BIT(USV_F_ACCESS_PLATFORM)
#define MSG_LEN 72
#define UADDR 0x7f0000000000ULL

/* ---- the table ----------------------------------------------------------- */

static void lookup_finds_the_lowest_start_and_the_oldest_of_equal_starts(void **state)
{
	struct usv_iotlb *t = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);
	const struct usv_iotlb_map *m;

	(void)state;
	assert_non_null(t);
	assert_int_equal(usv_iotlb_add(t, 0x2000, 0x2fff, 0xa000, USV_IOTLB_RW), 0);
	assert_int_equal(usv_iotlb_add(t, 0x1000, 0x5fff, 0xb000, USV_IOTLB_RO), 0);
	/* An UPDATE over a mapped range adds; it removes nothing. */
	assert_int_equal(usv_iotlb_add(t, 0x2000, 0x2fff, 0xc000, USV_IOTLB_WO), 0);
	assert_int_equal(t->n, 3);
	m = usv_iotlb_first(t, 0x2800, 0x2800);
	assert_non_null(m);
	assert_true(m->start == 0x1000 && m->addr == 0xb000);
	/* Of the two at 0x2000, the older answers. */
	m = usv_iotlb_first(t, 0x6000 - 1, 0x6000 - 1);
	assert_true(m->start == 0x1000);
	usv_iotlb_del(t, 0x1000, 0x1000);
	m = usv_iotlb_first(t, 0x2000, 0x2000);
	assert_true(m->start == 0x2000 && m->addr == 0xa000);
	assert_null(usv_iotlb_first(t, 0x3000, 0x7000));
	assert_null(usv_iotlb_first(t, 0, 0xfff));
	usv_iotlb_free(t);
}

static void a_range_ending_before_its_start_is_efault_and_the_whole_space_is_two(void **state)
{
	struct usv_iotlb *t = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);
	const struct usv_iotlb_map *m;

	(void)state;
	assert_int_equal(usv_iotlb_add(t, 0x2000, 0x1fff, 0, USV_IOTLB_RW), -EFAULT);
	assert_int_equal(t->n, 0);
	assert_int_equal(usv_iotlb_add(t, 0, UINT64_MAX, 0x1000, USV_IOTLB_RW), 0);
	assert_int_equal(t->n, 2);
	m = usv_iotlb_first(t, UINT64_MAX, UINT64_MAX);
	assert_true(m->start == UINT64_MAX / 2 + 1 && m->last == UINT64_MAX);
	assert_true(m->addr == 0x1000 + UINT64_MAX / 2 + 1);
	usv_iotlb_free(t);
}

static void at_the_limit_the_oldest_range_is_retired(void **state)
{
	struct usv_iotlb *t = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);

	(void)state;
	/* Added from the top down, so the oldest is not the first in order. */
	for (uint64_t i = 0; i < USV_IOTLB_MAX_ENTRIES + 1; i++) {
		uint64_t iova = (USV_IOTLB_MAX_ENTRIES - i) * 0x1000;

		assert_int_equal(usv_iotlb_add(t, iova, iova + 0xfff, iova, USV_IOTLB_RW), 0);
	}
	assert_int_equal(t->n, USV_IOTLB_MAX_ENTRIES);
	assert_null(usv_iotlb_first(t, USV_IOTLB_MAX_ENTRIES * 0x1000ULL,
				    USV_IOTLB_MAX_ENTRIES * 0x1000ULL));
	assert_non_null(usv_iotlb_first(t, 0, 0));
	assert_non_null(usv_iotlb_first(t, (USV_IOTLB_MAX_ENTRIES - 1) * 0x1000ULL,
					(USV_IOTLB_MAX_ENTRIES - 1) * 0x1000ULL));
	usv_iotlb_free(t);
}

static void invalidate_removes_every_overlapping_range(void **state)
{
	struct usv_iotlb *t = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);

	(void)state;
	usv_iotlb_add(t, 0x0000, 0x0fff, 0, USV_IOTLB_RW);
	usv_iotlb_add(t, 0x1000, 0x1fff, 0, USV_IOTLB_RW);
	usv_iotlb_add(t, 0x0000, 0xffff, 0, USV_IOTLB_RW); /* spans both */
	usv_iotlb_add(t, 0x3000, 0x3fff, 0, USV_IOTLB_RW);
	usv_iotlb_del(t, 0x1800, 0x1800);
	/* The range holding 0x1800 and the one spanning it went; the ones
	 * merely next to them stay. */
	assert_int_equal(t->n, 2);
	assert_non_null(usv_iotlb_first(t, 0x0, 0x0));
	assert_null(usv_iotlb_first(t, 0x1000, 0x2fff));
	assert_non_null(usv_iotlb_first(t, 0x3000, 0x3000));
	usv_iotlb_free(t);
}

static void translation_follows_ranges_and_reports_misses_and_permissions(void **state)
{
	struct usv_iotlb *t = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);
	struct usv_iotlb_seg s[4];
	uint64_t miss = 0;

	(void)state;
	usv_iotlb_add(t, 0x1000, 0x1fff, 0xa000, USV_IOTLB_RW);
	usv_iotlb_add(t, 0x2000, 0x2fff, 0x5000, USV_IOTLB_RO);
	usv_iotlb_add(t, 0x4000, 0x4fff, 0x9000, USV_IOTLB_WO);
	/* Across two ranges: two segments. */
	assert_int_equal(usv_iotlb_translate(t, 0x1ff0, 0x20, USV_IOTLB_RO, s, 4, &miss), 2);
	assert_true(s[0].addr == 0xaff0 && s[0].len == 0x10);
	assert_true(s[1].addr == 0x5000 && s[1].len == 0x10);
	/* A write through a read-only range. */
	assert_int_equal(usv_iotlb_translate(t, 0x1ff0, 0x20, USV_IOTLB_WO, s, 4, &miss), -EPERM);
	assert_int_equal(usv_iotlb_translate(t, 0x4000, 8, USV_IOTLB_RO, s, 4, &miss), -EPERM);
	/* The first address not mapped is the miss. */
	assert_int_equal(usv_iotlb_translate(t, 0x2ff0, 0x20, USV_IOTLB_RO, s, 4, &miss), -EAGAIN);
	assert_true(miss == 0x3000);
	assert_int_equal(usv_iotlb_translate(t, 0x800, 8, USV_IOTLB_RO, s, 4, &miss), -EAGAIN);
	assert_true(miss == 0x800);
	/* More segments than room. */
	assert_int_equal(usv_iotlb_translate(t, 0x1ff0, 0x20, USV_IOTLB_RO, s, 1, &miss), -ENOBUFS);
	/* Nothing to translate. */
	assert_int_equal(usv_iotlb_translate(t, 0x9000, 0, USV_IOTLB_RO, s, 4, &miss), 0);
	usv_iotlb_free(t);
}

/* ---- the channel ---------------------------------------------------------- */

static const struct usv_profile ap_profile = {
	.name = "unit-iotlb",
	.description = "vhost-net with ACCESS_PLATFORM and IOTLB_MSG_V2",
	.features = { OFFERED | AP, 0 },
	.backend_features = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2),
	.max_mem_regions = USV_MAX_MEM_REGIONS,
	.kernel = USV_KERNEL_NEWEST,
};

static int env_setup_ap(void **state)
{
	return env_setup_profile(state, &ap_profile);
}

/* struct vhost_msg (hdr 1) or vhost_msg_v2 (hdr 2, asid in bytes 4-7). */
static size_t msg(uint8_t *b, uint32_t hdr, uint32_t asid, uint8_t type, uint64_t iova,
		  uint64_t size, uint64_t uaddr, uint8_t perm)
{
	memset(b, 0, MSG_LEN);
	memcpy(b, &hdr, 4);
	memcpy(b + 4, &asid, 4);
	memcpy(b + 8, &iova, 8);
	memcpy(b + 16, &size, 8);
	memcpy(b + 24, &uaddr, 8);
	b[32] = perm;
	b[33] = type;
	return MSG_LEN;
}

static ssize_t send_msg(struct env *e, uint32_t hdr, uint8_t type, uint64_t iova,
			uint64_t size, uint64_t uaddr, uint8_t perm)
{
	uint8_t b[MSG_LEN];

	return usv_chr_write(e->dev, b, msg(b, hdr, 0, type, iova, size, uaddr, perm));
}

static int set_ap(struct env *e)
{
	return env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, V1 | MRG | AP);
}

static void without_access_platform_there_is_no_iotlb(void **state)
{
	struct env *e = *state;
	uint8_t b[MSG_LEN];

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, V1 | MRG), 0);
	assert_null(e->dev->iotlb);
	assert_int_equal(send_msg(e, 2, 2, 0x1000, 0x1000, UADDR, USV_IOTLB_RW), -EFAULT);
	assert_int_equal(send_msg(e, 2, 3, 0x1000, 0x1000, 0, 0), -EFAULT);
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN, true, NULL, NULL), -EAGAIN);
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN, false, NULL, NULL), -EBADFD);
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN - 1, false, NULL, NULL), 0);
	assert_int_equal(usv_chr_poll(e->dev, NULL, NULL), 0);
}

static void set_features_with_access_platform_starts_an_empty_iotlb(void **state)
{
	struct env *e = *state;
	struct usv_iotlb *first;

	/* No owner needed: SET_FEATURES and write() check none. */
	assert_int_equal(set_ap(e), 0);
	first = e->dev->iotlb;
	assert_non_null(first);
	assert_int_equal(send_msg(e, 2, 2, 0x1000, 0x1000, UADDR, USV_IOTLB_RW), MSG_LEN);
	assert_int_equal(e->dev->iotlb->n, 1);
	/* Without the bit the IOTLB stays as it is. */
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, V1 | MRG), 0);
	assert_non_null(e->dev->iotlb);
	assert_int_equal(e->dev->iotlb->n, 1);
	assert_int_equal(send_msg(e, 2, 2, 0x2000, 0x1000, UADDR, USV_IOTLB_RW), MSG_LEN);
	/* With it again: a new, empty one. */
	assert_int_equal(set_ap(e), 0);
	assert_non_null(e->dev->iotlb);
	assert_int_equal(e->dev->iotlb->n, 0);
}

static void each_message_gets_the_kernels_answer(void **state)
{
	struct env *e = *state;
	uint8_t b[MSG_LEN + 8];
	const uint64_t K = 0xffff800000000000ULL; /* outside the user space */

	assert_int_equal(set_ap(e), 0);
	/* Framing. */
	assert_int_equal(usv_chr_write(e->dev, b, 2), -EINVAL);
	msg(b, 3, 0, 2, 0x1000, 0x1000, UADDR, 3);
	assert_int_equal(usv_chr_write(e->dev, b, MSG_LEN), -EINVAL);
	msg(b, 2, 0, 2, 0x1000, 0x1000, UADDR, 3);
	assert_int_equal(usv_chr_write(e->dev, b, 39), -EINVAL);
	/* The message ends at byte 40: that is enough, and the answer is
	 * still a whole message. */
	assert_int_equal(usv_chr_write(e->dev, b, 40), MSG_LEN);
	assert_int_equal(usv_chr_write(e->dev, b, MSG_LEN + 8), MSG_LEN);
	/* v1 takes the same body at the same offset. */
	assert_int_equal(send_msg(e, 1, 2, 0x3000, 0x1000, UADDR, 3), MSG_LEN);
	/* vhost-net has no address spaces: the asid word is not read. */
	msg(b, 2, 7, 2, 0x4000, 0x1000, UADDR, 3);
	assert_int_equal(usv_chr_write(e->dev, b, MSG_LEN), MSG_LEN);
	/* Size 0: an UPDATE is refused; an INVALIDATE is taken, as Linux 6.1
	 * takes it, and removes the ranges spanning iova - 1 and iova. */
	assert_int_equal(send_msg(e, 2, 2, 0x1000, 0, UADDR, 3), -EINVAL);
	assert_int_equal(send_msg(e, 2, 3, 0x1000, 0, 0, 0), MSG_LEN);
	assert_non_null(usv_iotlb_first(e->dev->iotlb, 0x3800, 0x3800));
	assert_int_equal(send_msg(e, 1, 3, 0x3800, 0, 0, 0), MSG_LEN);
	assert_null(usv_iotlb_first(e->dev->iotlb, 0x3800, 0x3800));
	assert_non_null(usv_iotlb_first(e->dev->iotlb, 0x4000, 0x4000));
	assert_int_equal(send_msg(e, 2, 3, 0, 0, 0, 0), MSG_LEN); /* iova 0: everything */
	assert_null(usv_iotlb_first(e->dev->iotlb, 0x4000, 0x4000));
	/* The owner range: inside the user space for each access granted. */
	for (uint8_t perm = 1; perm <= 3; perm++) {
		check_ret(send_msg(e, 2, 2, 0x1000, 0x1000, K, perm), -EFAULT, "perm %u", perm);
		check_ret(send_msg(e, 2, 2, 0x1000, 0x2000, T - 0x1000, perm), -EFAULT,
			  "perm %u", perm);
	}
	assert_int_equal(send_msg(e, 2, 2, 0x1000, 0x1000, T - 0x1000, 3), MSG_LEN);
	/* No access granted: only the wrap is checked. */
	assert_int_equal(send_msg(e, 2, 2, 0x5000, 0x1000, K, 0), MSG_LEN);
	assert_int_equal(send_msg(e, 2, 2, 0x5000, 0x2000, UINT64_MAX - 0xfff, 0), -EFAULT);
	/* An IOVA range that wraps. */
	assert_int_equal(send_msg(e, 2, 2, UINT64_MAX - 0xfff, 0x2000, UADDR, 3), -EFAULT);
	/* Types the device does not take: MISS (its own), ACCESS_FAIL,
	 * BATCH_BEGIN/END (vhost-net has no batching), unknown. */
	{
		const uint8_t types[] = { 0, 1, 4, 5, 6, 7, 255 };

		for (unsigned i = 0; i < sizeof(types); i++)
			check_ret(send_msg(e, 2, types[i], 0x1000, 0x1000, UADDR, 3), -EFAULT,
				  "type %u", types[i]);
	}
	assert_int_equal(send_msg(e, 2, 3, 0x1000, 0x1000, 0, 0), MSG_LEN);
}

static void a_running_ring_hears_of_each_change_and_of_its_answered_miss(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	uint8_t b[MSG_LEN];

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(set_ap(e), 0);
	/* The rings' addresses are IOVAs now: NET_SET_BACKEND reads the used
	 * ring through the IOTLB, asks for it and fails as the kernel's
	 * vhost_vq_init_access(). */
	assert_int_equal(env_start_ring(e, 1, backend), -EFAULT);
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN, true, NULL, NULL), MSG_LEN);
	assert_true(memcmp(b + 8, &(uint64_t){ env_ring_used(e, 1) }, 8) == 0);
	assert_int_equal(b[32], USV_IOTLB_WO);
	/* Mapped one to one, it starts. */
	assert_int_equal(send_msg(e, 2, 2, (uint64_t)(uintptr_t)e->guest, ENV_GUEST_SIZE,
				  (uint64_t)(uintptr_t)e->guest, 3), MSG_LEN);
	assert_int_equal(env_start_ring(e, 1, backend), 0);
	fake_dp_clear(&e->dp);
	/* Before write() answers, the ring has dropped what it cached. */
	assert_int_equal(send_msg(e, 2, 2, 0x10000, 0x1000, UADDR, 3), MSG_LEN);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(dp_last(e)->idx, 1);
	assert_int_equal(dp_last(e)->what, USV_RING_IOTLB);
	assert_int_equal(send_msg(e, 2, 3, 0x10000, 0x1000, 0, 0), MSG_LEN);
	assert_int_equal(e->dp.n, 2);
	assert_int_equal(dp_last(e)->what, USV_RING_IOTLB);
	/* Its miss, read and then answered: the ring goes again. */
	assert_int_equal(usv_chr_miss(e->dev, 1, 0x20000, USV_IOTLB_RO, true), 0);
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN, true, NULL, NULL), MSG_LEN);
	assert_int_equal(send_msg(e, 2, 2, 0x20000, 0x1000, UADDR, 3), MSG_LEN);
	assert_int_equal(e->dp.n, 3);
	assert_int_equal(dp_last(e)->what, USV_RING_IOTLB | USV_RING_REQUEUE);
	/* A refused message changes nothing. */
	assert_int_equal(send_msg(e, 2, 2, 0x20000, 0, UADDR, 3), -EINVAL);
	assert_int_equal(send_msg(e, 2, 5, 0x20000, 0x1000, UADDR, 3), -EFAULT);
	assert_int_equal(e->dp.n, 3);
}

static void invalidate_takes_what_it_overlaps(void **state)
{
	struct env *e = *state;
	unsigned before;

	assert_int_equal(set_ap(e), 0);
	assert_int_equal(send_msg(e, 2, 2, 0x10000, 0x10000, UADDR, 3), MSG_LEN);
	assert_int_equal(send_msg(e, 2, 2, 0x30000, 0x1000, UADDR, 3), MSG_LEN);
	before = dp_count(e, DP_UPDATE, 0, 0);
	assert_int_equal(send_msg(e, 2, 3, 0x1f000, 0x11000, 0, 0), MSG_LEN);
	assert_int_equal(e->dev->iotlb->n, 1);
	assert_non_null(usv_iotlb_first(e->dev->iotlb, 0x30000, 0x30000));
	/* No ring runs: the datapath was told nothing. */
	assert_int_equal(dp_count(e, DP_UPDATE, 0, 0), before);
}

static void a_miss_is_read_once_in_the_negotiated_framing(void **state)
{
	struct env *e = *state;
	uint8_t b[MSG_LEN + 16];
	uint64_t iova;
	uint32_t hdr;

	assert_int_equal(set_ap(e), 0);
	assert_int_equal(usv_chr_poll(e->dev, NULL, NULL), 0);
	assert_int_equal(usv_chr_miss(e->dev, 1, 0x12345000, USV_IOTLB_RO, true), 0);
	/* Asked again before it was read: still one message. */
	assert_int_equal(usv_chr_miss(e->dev, 1, 0x12345000, USV_IOTLB_RO, true), 0);
	assert_int_equal(usv_chr_miss(e->dev, 0, 0x777000, USV_IOTLB_WO, false), 0);
	assert_int_equal(usv_chr_poll(e->dev, NULL, NULL), POLLIN | POLLRDNORM);
	/* A short buffer reads nothing and leaves the message. */
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN - 1, true, NULL, NULL), 0);
	memset(b, 0xee, sizeof(b));
	assert_int_equal(usv_chr_read(e->dev, b, sizeof(b), true, NULL, NULL), MSG_LEN);
	memcpy(&hdr, b, 4);
	memcpy(&iova, b + 8, 8);
	assert_int_equal(hdr, 2);
	assert_true(iova == 0x12345000);
	assert_int_equal(b[32], USV_IOTLB_RO);
	assert_int_equal(b[33], 1); /* VHOST_IOTLB_MISS */
	/* asid, size, uaddr and padding are zero. */
	for (unsigned i = 4; i < 8; i++)
		assert_int_equal(b[i], 0);
	for (unsigned i = 16; i < 32; i++)
		assert_int_equal(b[i], 0);
	for (unsigned i = 34; i < MSG_LEN; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(b[MSG_LEN], 0xee); /* one message per read */
	assert_int_equal(usv_chr_read(e->dev, b, sizeof(b), true, NULL, NULL), MSG_LEN);
	memcpy(&hdr, b, 4);
	assert_int_equal(hdr, 1);
	assert_int_equal(b[32], USV_IOTLB_WO);
	assert_int_equal(usv_chr_poll(e->dev, NULL, NULL), 0);
	assert_int_equal(usv_chr_read(e->dev, b, sizeof(b), true, NULL, NULL), -EAGAIN);
	/* Read and unanswered: asked again, it is queued again. */
	assert_int_equal(usv_chr_miss(e->dev, 1, 0x12345000, USV_IOTLB_RO, true), 0);
	assert_int_equal(usv_chr_poll(e->dev, NULL, NULL), POLLIN | POLLRDNORM);
}

static void an_update_answers_the_misses_it_covers(void **state)
{
	struct env *e = *state;
	uint8_t b[MSG_LEN];

	assert_int_equal(set_ap(e), 0);
	assert_int_equal(usv_chr_miss(e->dev, 1, 0x5000, USV_IOTLB_RO, true), 0);
	assert_int_equal(usv_chr_miss(e->dev, 0, 0x9000, USV_IOTLB_WO, true), 0);
	/* Only read misses wait for an answer (vhost_iotlb_notify_vq). */
	assert_int_equal(usv_msgq_answered(&e->dev->msgq, 0x5000, 0x1000), 0);
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN, true, NULL, NULL), MSG_LEN);
	assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN, true, NULL, NULL), MSG_LEN);
	assert_int_equal(usv_msgq_answered(&e->dev->msgq, 0x4000, 0x1000), 0);
	assert_int_equal(usv_msgq_answered(&e->dev->msgq, 0x4000, 0x1001), 1u << 1);
	/* Answered once. */
	assert_int_equal(usv_msgq_answered(&e->dev->msgq, 0x4000, 0x2000), 0);
	assert_int_equal(usv_msgq_answered(&e->dev->msgq, 0x9000, 1), 1u << 0);
}

struct waker_log {
	void *notified, *dropped[4];
	unsigned ndropped;
};
static struct waker_log wlog;

static void w_notify(void *h)
{
	wlog.notified = h;
}

static void w_drop(void *h)
{
	wlog.dropped[wlog.ndropped++ % 4] = h;
}

static const struct usv_poll_waker waker = { .notify = w_notify, .drop = w_drop };

static void a_queued_miss_wakes_the_last_poller_once(void **state)
{
	struct env *e = *state;
	int h1, h2;

	memset(&wlog, 0, sizeof(wlog));
	assert_int_equal(set_ap(e), 0);
	assert_int_equal(usv_chr_poll(e->dev, &waker, &h1), 0);
	/* A newer poll replaces the handle: the old one is dropped unused. */
	assert_int_equal(usv_chr_poll(e->dev, &waker, &h2), 0);
	assert_int_equal(wlog.ndropped, 1);
	assert_ptr_equal(wlog.dropped[0], &h1);
	assert_int_equal(usv_chr_miss(e->dev, 0, 0x1000, USV_IOTLB_RO, true), 0);
	assert_ptr_equal(wlog.notified, &h2);
	assert_int_equal(wlog.ndropped, 2);
	assert_ptr_equal(wlog.dropped[1], &h2);
	/* Nobody polls now: a second miss notifies nobody. */
	wlog.notified = NULL;
	assert_int_equal(usv_chr_miss(e->dev, 0, 0x2000, USV_IOTLB_RO, true), 0);
	assert_null(wlog.notified);
	/* Polling while readable answers POLLIN and keeps the handle, which
	 * release drops. */
	assert_int_equal(usv_chr_poll(e->dev, &waker, &h1), POLLIN | POLLRDNORM);
	assert_int_equal(wlog.ndropped, 2);
}

struct reader {
	struct usv_dev *dev;
	uint8_t buf[MSG_LEN];
	atomic_bool stop;
	ssize_t ret;
};

static bool reader_stopped(void *p)
{
	return atomic_load(&((struct reader *)p)->stop);
}

static void *reader_run(void *p)
{
	struct reader *r = p;

	r->ret = usv_chr_read(r->dev, r->buf, MSG_LEN, false, reader_stopped, r);
	return NULL;
}

/* Waits up to 5 s for the reader to end; true if it did. */
static bool reader_ended(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

static bool reader_waits(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_nsec -= 1000000000L;
		ts.tv_sec++;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == ETIMEDOUT;
}

static void a_blocking_read_waits_for_a_miss_an_interrupt_or_the_iotlbs_end(void **state)
{
	struct env *e = *state;
	struct reader r = { .dev = e->dev, .ret = 1 };
	pthread_t t;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(set_ap(e), 0);
	/* A miss ends the wait. */
	assert_int_equal(pthread_create(&t, NULL, reader_run, &r), 0);
	assert_true(reader_waits(t));
	assert_int_equal(usv_chr_miss(e->dev, 1, 0xabc000, USV_IOTLB_RO, true), 0);
	assert_true(reader_ended(t));
	assert_int_equal(r.ret, MSG_LEN);
	/* So does the caller's interruption (a signal; FUSE's INTERRUPT). */
	r.ret = 1;
	assert_int_equal(pthread_create(&t, NULL, reader_run, &r), 0);
	assert_true(reader_waits(t));
	atomic_store(&r.stop, true);
	assert_true(reader_ended(t));
	assert_int_equal(r.ret, -EINTR);
	/* RESET_OWNER takes the IOTLB and every message queued. */
	assert_int_equal(usv_chr_miss(e->dev, 1, 0x1000, USV_IOTLB_RO, true), 0);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_RESET_OWNER, 0), 0);
	assert_null(e->dev->iotlb);
	assert_int_equal(usv_chr_poll(e->dev, NULL, NULL), 0);
	assert_int_equal(usv_chr_read(e->dev, r.buf, MSG_LEN, false, NULL, NULL), -EBADFD);
	assert_int_equal(send_msg(e, 2, 2, 0x1000, 0x1000, UADDR, 3), -EFAULT);
}

static void a_blocked_read_ends_with_ebadfd_at_reset_owner(void **state)
{
	struct env *e = *state;
	struct reader r = { .dev = e->dev, .ret = 1 };
	pthread_t t;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(set_ap(e), 0);
	assert_int_equal(pthread_create(&t, NULL, reader_run, &r), 0);
	assert_true(reader_waits(t));
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_RESET_OWNER, 0), 0);
	assert_true(reader_ended(t));
	assert_int_equal(r.ret, -EBADFD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookup_finds_the_lowest_start_and_the_oldest_of_equal_starts),
		cmocka_unit_test(a_range_ending_before_its_start_is_efault_and_the_whole_space_is_two),
		cmocka_unit_test(at_the_limit_the_oldest_range_is_retired),
		cmocka_unit_test(invalidate_removes_every_overlapping_range),
		cmocka_unit_test(translation_follows_ranges_and_reports_misses_and_permissions),
		cmocka_unit_test_setup_teardown(without_access_platform_there_is_no_iotlb,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(set_features_with_access_platform_starts_an_empty_iotlb,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(each_message_gets_the_kernels_answer,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(invalidate_takes_what_it_overlaps,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(a_running_ring_hears_of_each_change_and_of_its_answered_miss,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(a_miss_is_read_once_in_the_negotiated_framing,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(an_update_answers_the_misses_it_covers,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(a_queued_miss_wakes_the_last_poller_once,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(a_blocking_read_waits_for_a_miss_an_interrupt_or_the_iotlbs_end,
						env_setup_ap, env_teardown),
		cmocka_unit_test_setup_teardown(a_blocked_read_ends_with_ebadfd_at_reset_owner,
						env_setup_ap, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
