/* SPDX-License-Identifier: MIT */
/*
 * Per-ring ioctls: SET/GET_VRING_NUM, ADDR, BASE, BUSYLOOP_TIMEOUT; the
 * eventfds (kick, call, err, log fd); SET_LOG_BASE.
 * The caller, its memory and the shared helpers: ioctl_fixture.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ioctl_fixture.h"

static void vring_num_must_be_a_power_of_two_up_to_32768(void **state)
{
	struct env *e = *state;
	const uint32_t bad[] = { 0, 3, 6, 100, 0xffff, 65536, 0x10000, 0x80000000, UINT32_MAX };
	const uint32_t good[] = { 1, 2, 256, 1024, 32768 };

	assert_int_equal(env_set_owner(e), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 1, bad[i]),
				 -EINVAL);
		assert_int_equal(e->dev->vqs[1].num, 1); /* unchanged */
	}
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 1, good[i]), 0);
		assert_int_equal(e->dev->vqs[1].num, good[i]);
	}
	assert_int_equal(e->dev->vqs[0].num, 1); /* the other ring is untouched */
}

static void vring_num_and_base_are_ebusy_while_the_ring_runs(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 512), -EBUSY);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 3), -EBUSY);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 0, 5), -EBUSY);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 0, 0x10000), -EBUSY);
	/* Checked before the payload is read. */
	memset(e->u.buf + UFAKE_SIZE - 4, 0, 4);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_SET_VRING_NUM, ARG_LAST4), -EBUSY);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_SET_VRING_BASE, ARG_LAST4), -EBUSY);
	assert_int_equal(e->dev->vqs[0].num, 256);
	/* The stopped ring is free to change; GET_VRING_BASE works on both. */
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 1, 512), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, 5), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(env_out_state(e).num, 0);
}

static void vring_addr_with_unknown_flags_is_eopnotsupp(void **state)
{
	struct env *e = *state;
	const uint32_t flags[] = { 0x2, 0x3, 0x80000000, UINT32_MAX };

	assert_int_equal(env_set_owner(e), 0);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(env_vring_addr(e, 0, flags[i], 0x1000, 0x2000, 0x3000, 0), -EOPNOTSUPP);
		/* Before the alignment checks. */
		assert_int_equal(env_vring_addr(e, 0, flags[i], 1, 1, 1, 1), -EOPNOTSUPP);
	}
	assert_int_equal(env_vring_addr(e, 0, 1u << USV_VHOST_VRING_F_LOG, 0x1000, 0x2000, 0x3000, 0), 0);
	assert_true(e->dev->vqs[0].log_used);
	assert_int_equal(env_vring_addr(e, 0, 0, 0x1000, 0x2000, 0x3000, 0), 0);
	assert_false(e->dev->vqs[0].log_used);
}

static void vring_addr_alignment_avail_2_used_4_log_4_desc_none(void **state)
{
	struct env *e = *state;
	const uint64_t D = 0x10000, U = 0x20000, A = 0x30000, L = 0x40000;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_vring_addr(e, 1, 0, D, U, A + 1, L), -EINVAL);
	assert_int_equal(env_vring_addr(e, 1, 0, D, U + 2, A, L), -EINVAL);
	assert_int_equal(env_vring_addr(e, 1, 0, D, U + 1, A, L), -EINVAL);
	assert_int_equal(env_vring_addr(e, 1, 0, D, U, A, L + 2), -EINVAL);
	assert_int_equal(env_vring_addr(e, 1, 0, D, U, A, L + 1), -EINVAL);
	/* The log address is checked even without the log flag. */
	assert_int_equal(env_vring_addr(e, 1, 0, D, U, A, UINT64_MAX), -EINVAL);
	assert_true(e->dev->vqs[1].used == 0); /* nothing was set */
	assert_int_equal(env_vring_addr(e, 1, 0, D + 1, U + 4, A + 2, L + 4), 0);
	assert_true(e->dev->vqs[1].desc == D + 1);
	assert_true(e->dev->vqs[1].used == U + 4);
	assert_true(e->dev->vqs[1].avail == A + 2);
	assert_true(e->dev->vqs[1].log_addr == L + 4);
}

static void vring_addr_is_not_range_checked_while_the_ring_is_stopped(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_vring_addr(e, 0, 1u << USV_VHOST_VRING_F_LOG, UINT64_MAX,
					UINT64_MAX - 3, UINT64_MAX - 1, UINT64_MAX - 3), 0);
	/* Such a ring cannot start. */
	assert_int_equal(env_mem_guest(e), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), -EFAULT);
}

static void vring_addr_out_of_reach_while_running_is_einval(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	uint64_t d, u, a;
	const uint32_t log = 1u << USV_VHOST_VRING_F_LOG;

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	d = env_ring_desc(e, 0);
	u = env_ring_used(e, 0);
	a = env_ring_avail(e, 0);
	fake_dp_clear(&e->dp);
	/* num 256: desc 4096 bytes, avail 4 + 512, used 4 + 2048. */
	assert_int_equal(env_vring_addr(e, 0, 0, T - 4096 + 16, u, a, 0), -EINVAL);
	assert_int_equal(env_vring_addr(e, 0, 0, d, u, T - 516 + 2, 0), -EINVAL);
	assert_int_equal(env_vring_addr(e, 0, 0, d, T - 2052 + 4, a, 0), -EINVAL);
	assert_int_equal(env_vring_addr(e, 0, 0, d, T, a, 0), -EINVAL);
	/* A logged used ring whose bitmap bytes are out of reach. */
	assert_int_equal(env_vring_addr(e, 0, log, d, u, a, 0xfffffffffffff000ULL), -EINVAL);
	assert_int_equal(e->dp.n, 0);
	assert_true(e->dev->vqs[0].used == u);
	/* Exactly at the top is fine. */
	assert_int_equal(env_vring_addr(e, 0, 0, T - 4096, T - 2052, T - 516, 0), 0);
	assert_int_equal(dp_count(e, DP_UPDATE, 0, USV_RING_ADDR), 1);
	assert_int_equal(env_vring_addr(e, 0, log, d, u, a, 0x1000), 0);
	assert_int_equal(dp_count(e, DP_UPDATE, 0, USV_RING_ADDR), 2);
}

static void vring_base_is_at_most_0xffff_and_reads_back_with_its_index(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0xabcd), 0);
	assert_int_equal(env_out_state(e).index, 1);
	assert_int_equal(env_out_state(e).num, 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, 0xffff), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, 0x10000), -EINVAL);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, UINT32_MAX), -EINVAL);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 0, 7), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0), 0);
	assert_int_equal(env_out_state(e).index, 1);
	assert_int_equal(env_out_state(e).num, 0xffff);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(env_out_state(e).index, 0);
	assert_int_equal(env_out_state(e).num, 7);
}

static void get_vring_base_into_unwritable_memory_is_efault(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	memset(e->u.buf + UFAKE_SIZE - 4, 0, 4);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_GET_VRING_BASE, ARG_LAST4), -EFAULT);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
				      ARG_LAST4), -EFAULT);
}

static void vring_busyloop_timeout_reads_back_per_ring(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 0, 50), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 1,
				   UINT32_MAX), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, 0, 9), 0);
	assert_int_equal(env_out_state(e).index, 0);
	assert_int_equal(env_out_state(e).num, 50);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, 1, 9), 0);
	assert_int_equal(env_out_state(e).index, 1);
	assert_int_equal(env_out_state(e).num, UINT32_MAX);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 1, 0), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, 1, 9), 0);
	assert_int_equal(env_out_state(e).num, 0);
}

/* ---- eventfds: kick, call, err, log -------------------------------------------- */

typedef int *(*slot_fn)(struct env *e, unsigned idx);

static int *kick_slot(struct env *e, unsigned i) { return &e->dev->vqs[i].kick_fd; }
static int *call_slot(struct env *e, unsigned i) { return &e->dev->vqs[i].call_fd; }
static int *err_slot(struct env *e, unsigned i) { return &e->dev->vqs[i].err_fd; }
static int *log_slot(struct env *e, unsigned i) { (void)i; return &e->dev->log_fd; }

static int fd_ioctl(struct env *e, uint32_t cmd, unsigned idx, int fd)
{
	if (cmd == USV_VHOST_SET_LOG_FD)
		return set_log_fd(e, fd);
	return env_file(e, &e->owner, cmd, idx, fd);
}

static void check_eventfd_ioctl(struct env *e, uint32_t cmd, slot_fn slot)
{
	const unsigned idx = 1;
	int efd1 = env_eventfd(e), efd2 = env_eventfd(e);
	int rd = env_pipe(e);
	int sock[2], mfd, fds, first, second;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock), 0);
	env_keep(e, sock[0]);
	env_keep(e, sock[1]);
	mfd = env_keep(e, memfd_create("usv-unit", MFD_CLOEXEC));
	assert_int_equal(env_set_owner(e), 0);
	fds = count_open_fds();

	assert_int_equal(fd_ioctl(e, cmd, idx, -1), 0);
	assert_int_equal(*slot(e, idx), -1);
	assert_int_equal(fd_ioctl(e, cmd, idx, closed_fd_number()), -EBADF);
	assert_int_equal(fd_ioctl(e, cmd, idx, -2), -EBADF);
	assert_int_equal(fd_ioctl(e, cmd, idx, INT32_MIN), -EBADF);
	assert_int_equal(fd_ioctl(e, cmd, idx, rd), -EINVAL);
	assert_int_equal(fd_ioctl(e, cmd, idx, sock[0]), -EINVAL);
	assert_int_equal(fd_ioctl(e, cmd, idx, mfd), -EINVAL);
	assert_int_equal(count_open_fds(), fds); /* nothing imported stays */
	assert_int_equal(*slot(e, idx), -1);

	assert_int_equal(fd_ioctl(e, cmd, idx, efd1), 0);
	first = *slot(e, idx);
	assert_true(first >= 0);
	assert_true(usv_same_file(first, efd1));
	assert_int_equal(count_open_fds(), fds + 1);
	/* A refused fd leaves the bound one in place. */
	assert_int_equal(fd_ioctl(e, cmd, idx, rd), -EINVAL);
	assert_int_equal(*slot(e, idx), first);
	/* Replacing closes the old import. */
	assert_int_equal(fd_ioctl(e, cmd, idx, efd2), 0);
	second = *slot(e, idx);
	assert_true(usv_same_file(second, efd2));
	assert_false(fd_is_open(first));
	assert_int_equal(count_open_fds(), fds + 1);
	/* Unbinding closes it too. */
	assert_int_equal(fd_ioctl(e, cmd, idx, -1), 0);
	assert_int_equal(*slot(e, idx), -1);
	assert_false(fd_is_open(second));
	assert_int_equal(count_open_fds(), fds);
	if (cmd != USV_VHOST_SET_LOG_FD)
		assert_int_equal(*slot(e, 0), -1); /* the other ring: untouched */
}

static void vring_kick_takes_an_eventfd_or_minus_one(void **state)
{
	check_eventfd_ioctl(*state, USV_VHOST_SET_VRING_KICK, kick_slot);
}

static void vring_call_takes_an_eventfd_or_minus_one(void **state)
{
	check_eventfd_ioctl(*state, USV_VHOST_SET_VRING_CALL, call_slot);
}

static void vring_err_takes_an_eventfd_or_minus_one(void **state)
{
	check_eventfd_ioctl(*state, USV_VHOST_SET_VRING_ERR, err_slot);
}

static void log_fd_takes_an_eventfd_or_minus_one(void **state)
{
	check_eventfd_ioctl(*state, USV_VHOST_SET_LOG_FD, log_slot);
}

/* ---- SET_LOG_BASE ------------------------------------------------------------ */

static void log_base_is_accepted_anywhere_while_rings_are_stopped(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, LOG_ALL), 0);
	assert_int_equal(env_mem_guest(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, T), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, UINT64_MAX), 0);
	assert_true(e->dev->vqs[0].log_base == UINT64_MAX);
	assert_true(e->dev->vqs[1].log_base == UINT64_MAX);
	/* But a ring cannot start with it. */
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), -EFAULT);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, 0x100000), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
}

static void log_base_out_of_reach_of_a_running_ring_is_efault(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);

	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, LOG_ALL), 0);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	fake_dp_clear(&e->dp);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, T), -EFAULT);
	/* Ring by ring, as the kernel: the running ring keeps its base, the
	 * stopped one takes the new one (it is checked when it starts). */
	assert_true(e->dev->vqs[0].log_base == 0);
	assert_true(e->dev->vqs[1].log_base == T);
	assert_int_equal(e->dp.n, 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, 0x200000), 0);
	assert_true(e->dev->vqs[0].log_base == 0x200000);
	assert_int_equal(dp_count(e, DP_UPDATE, 0, USV_RING_LOG), 1);
	/* Without LOG_ALL, only a logged used ring needs the bitmap. */
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, 0), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, T), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, 0), 0);
	assert_int_equal(env_vring_addr(e, 0, 1u << USV_VHOST_VRING_F_LOG, env_ring_desc(e, 0),
					env_ring_used(e, 0), env_ring_avail(e, 0), 0x8000), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, T - 1), -EFAULT);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, T - 2), 0);
}

/* ---- packed rings (VIRTIO_F_RING_PACKED acked) -------------------------- */

/* Acks the packed ring as SET_FEATURES would with a profile offering it. */
static void ack_packed(struct env *e)
{
	e->dev->acked_features[0] |= USV_BIT(USV_F_RING_PACKED) | V1;
}

static void packed_vring_base_carries_both_positions_with_wrap_counters(void **state)
{
	struct env *e = *state;

	/* QEMU's encoding: avail slot | avail wrap << 15 | (used slot | used
	 * wrap << 15) << 16. A fresh ring is 0x80008000. */
	assert_int_equal(env_set_owner(e), 0);
	ack_packed(e);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, 0x80008000u), 0);
	assert_int_equal(e->dev->vqs[1].last_avail_idx, 0x8000);
	assert_int_equal(e->dev->vqs[1].last_used_idx, 0x8000);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, 0x00058003u), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0), 0);
	assert_int_equal(env_out_state(e).index, 1);
	assert_int_equal(env_out_state(e).num, 0x00058003u);
	/* Every value is taken (Linux 6.5+ vhost too): the walker checks
	 * the slots against the ring when it runs. */
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 0, UINT32_MAX), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(env_out_state(e).num, UINT32_MAX);
	/* Without the packed ring, the split ring's rule again. */
	e->dev->acked_features[0] &= ~USV_BIT(USV_F_RING_PACKED);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 0, 0x10000), -EINVAL);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0), 0);
	assert_int_equal(env_out_state(e).num, 0x8003);
}

static void packed_vring_addr_alignment_desc_16_events_4(void **state)
{
	struct env *e = *state;
	const uint64_t D = 0x10000, A = 0x20000, U = 0x30000;

	assert_int_equal(env_set_owner(e), 0);
	ack_packed(e);
	assert_int_equal(env_vring_addr(e, 0, 0, D + 8, U, A, 0), -EINVAL);
	assert_int_equal(env_vring_addr(e, 0, 0, D, U, A + 2, 0), -EINVAL);
	assert_int_equal(env_vring_addr(e, 0, 0, D, U + 2, A, 0), -EINVAL);
	assert_true(e->dev->vqs[0].desc == 0); /* nothing was set */
	assert_int_equal(env_vring_addr(e, 0, 0, D + 16, U + 4, A + 4, 0), 0);
	assert_true(e->dev->vqs[0].desc == D + 16);
	assert_true(e->dev->vqs[0].avail == A + 4);
	assert_true(e->dev->vqs[0].used == U + 4);
}

static void packed_ring_starts_at_the_base_without_used_ring_accesses(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	uint8_t *dev_event;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	ack_packed(e);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 0, 0x80038005u), 0);
	/* The device event area: attach writes no used flags there and
	 * reads no used index from it. */
	dev_event = e->guest + (env_ring_used(e, 0) - env_ring_desc(e, 0));
	memset(dev_event, 0xab, 4);
	fake_dp_clear(&e->dp);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(dp_count(e, DP_START, 0, 0), 1);
	assert_int_equal(e->dp.ev[e->dp.n - 1].last_used_idx, 0x8003);
	assert_int_equal(e->dev->vqs[0].last_avail_idx, 0x8005);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(dev_event[i], 0xab);
}

int main(void)
{
#define E(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		E(vring_num_must_be_a_power_of_two_up_to_32768),
		E(vring_num_and_base_are_ebusy_while_the_ring_runs),
		E(vring_addr_with_unknown_flags_is_eopnotsupp),
		E(vring_addr_alignment_avail_2_used_4_log_4_desc_none),
		E(vring_addr_is_not_range_checked_while_the_ring_is_stopped),
		E(vring_addr_out_of_reach_while_running_is_einval),
		E(vring_base_is_at_most_0xffff_and_reads_back_with_its_index),
		E(get_vring_base_into_unwritable_memory_is_efault),
		E(vring_busyloop_timeout_reads_back_per_ring),
		E(vring_kick_takes_an_eventfd_or_minus_one),
		E(vring_call_takes_an_eventfd_or_minus_one),
		E(vring_err_takes_an_eventfd_or_minus_one),
		E(log_fd_takes_an_eventfd_or_minus_one),
		E(log_base_is_accepted_anywhere_while_rings_are_stopped),
		E(log_base_out_of_reach_of_a_running_ring_is_efault),
		E(packed_vring_base_carries_both_positions_with_wrap_counters),
		E(packed_vring_addr_alignment_desc_16_events_4),
		E(packed_ring_starts_at_the_base_without_used_ring_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
