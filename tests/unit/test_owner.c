/* SPDX-License-Identifier: MIT */
/*
 * Owners: SET_OWNER and RESET_OWNER, an owner that execs or exits, and the
 * fresh state RESET_OWNER returns to.
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

static void set_owner_makes_the_caller_the_owner(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), -EPERM);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
	assert_int_equal(env_state(e, &e->other, USV_VHOST_SET_VRING_NUM, 0, 64), -EPERM);
}

static void set_owner_on_an_owned_device_is_ebusy(void **state)
{
	struct env *e = *state;
	int fds;

	assert_int_equal(env_set_owner(e), 0);
	fds = count_open_fds();
	assert_int_equal(env_set_owner(e), -EBUSY);
	assert_int_equal(env_ioctl_at(e, &e->other, USV_VHOST_SET_OWNER, 0), -EBUSY);
	assert_int_equal(count_open_fds(), fds);
	/* Still ours. */
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
	assert_int_equal(env_state(e, &e->other, USV_VHOST_SET_VRING_NUM, 0, 64), -EPERM);
}

static void set_owner_for_an_unreachable_process_fails_and_leaves_the_device_free(void **state)
{
	struct env *e = *state;
	struct usv_caller ghost = { .tid = 0x7ffffff0, .tgid = 0x7ffffff0 };
	int fds = count_open_fds();

	/* No kernel answer to match here: the daemon cannot reach the
	 * process (pidfd_open fails), so it must not become the owner. */
	assert_int_equal(env_ioctl_at(e, &ghost, USV_VHOST_SET_OWNER, 0), -ESRCH);
	assert_int_equal(count_open_fds(), fds);
	assert_int_equal(env_state(e, &ghost, USV_VHOST_SET_VRING_NUM, 0, 64), -EPERM);
	assert_int_equal(env_set_owner(e), 0);
}

/* The kernel pins the owner's mm: after an exec (or exit) the process is
 * no owner (EPERM, RESET_OWNER included) and the device stays owned
 * (SET_OWNER: EBUSY). */
static void owner_gone(struct env *e, char what)
{
	struct unit_child c;
	struct usv_caller ch;
	int fds;

	child_start(&c);
	ch = (struct usv_caller){ .tid = c.pid, .tgid = c.pid };
	assert_int_equal(env_ioctl_at(e, &ch, USV_VHOST_SET_OWNER, 0), 0);
	assert_int_equal(env_state(e, &ch, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
	fds = count_open_fds();
	child_go(&c, what);
	check_ret(env_state(e, &ch, USV_VHOST_SET_VRING_NUM, 0, 32), -EPERM, "%c: vring", what);
	check_ret(env_ioctl_at(e, &ch, USV_VHOST_SET_MEM_TABLE, UFAKE_BAD), -EPERM, "%c: dev", what);
	check_ret(env_file(e, &ch, USV_VHOST_NET_SET_BACKEND, 0, -1), -EPERM, "%c: backend", what);
	check_ret(env_ioctl_at(e, &ch, USV_VHOST_RESET_OWNER, 0), -EPERM, "%c: reset", what);
	check_ret(env_ioctl_at(e, &ch, USV_VHOST_SET_OWNER, 0), -EBUSY, "%c: set owner", what);
	check_ret(env_set_owner(e), -EBUSY, "%c: another set owner", what);
	/* net.c's own ioctls need no owner. */
	check_ret(env_u64(e, &ch, USV_VHOST_GET_FEATURES, 0), 0, "%c: features", what);
	assert_int_equal(e->dev->vqs[0].num, 64);
	assert_int_equal(count_open_fds(), fds);
	child_end(&c);
}

static void an_owner_that_execs_is_no_owner_any_more(void **state)
{
	owner_gone(*state, 'e');
}

static void an_owner_that_exits_is_no_owner_any_more(void **state)
{
	owner_gone(*state, 'x');
}

static void reset_owner_by_a_non_owner_is_eperm(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_RESET_OWNER, 0), -EPERM);
	assert_int_equal(env_ioctl_at(e, &e->other, USV_VHOST_RESET_OWNER, 0), -EPERM);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
	assert_int_equal(env_ioctl_at(e, &e->other, USV_VHOST_RESET_OWNER, 0), -EPERM);
	/* Nothing was reset. */
	assert_int_equal(e->dev->vqs[0].num, 64);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
}

static void reset_owner_returns_the_device_to_its_fresh_state(void **state)
{
	struct env *e = *state;
	int k = env_eventfd(e), c = env_eventfd(e), er = env_eventfd(e), l = env_eventfd(e);
	int fds = count_open_fds();
	int imported[7], n = 0;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, MRG | NET_HDR), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_BACKEND_FEATURES, 0x2), 0);
	assert_int_equal(env_mem_guest(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, 0x100000), 0);
	assert_int_equal(set_log_fd(e, l), 0);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, i, 256), 0);
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, i, 77), 0);
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, i, 50), 0);
		assert_int_equal(env_vring_addr(e, i, 1u << USV_VHOST_VRING_F_LOG,
						env_ring_desc(e, i), env_ring_used(e, i),
						env_ring_avail(e, i), 0x2000), 0);
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, i, k), 0);
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, i, c), 0);
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_ERR, i, er), 0);
	}
	imported[n++] = e->dev->log_fd;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		imported[n++] = e->dev->vqs[i].kick_fd;
		imported[n++] = e->dev->vqs[i].call_fd;
		imported[n++] = e->dev->vqs[i].err_fd;
	}
	assert_int_equal(e->dev->vqs[0].vhost_hlen, 12);

	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_RESET_OWNER, 0), 0);

	/* Every fd the device held is closed, the owner's pidfd and mem too. */
	assert_int_equal(count_open_fds(), fds);
	for (int i = 0; i < n; i++)
		assert_false(fd_is_open(imported[i]));
	/* Nobody owns it now. */
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), -EPERM);
	/* What vhost_vq_reset() and vhost_net_vq_reset() leave. */
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct usv_vq *vq = &e->dev->vqs[i];

		assert_int_equal(vq->num, 1);
		assert_true(vq->desc == 0 && vq->avail == 0 && vq->used == 0);
		assert_false(vq->log_used);
		assert_true(vq->log_base == 0);
		assert_true(vq->log_addr == UINT64_MAX);
		assert_int_equal(vq->last_avail_idx, 0);
		assert_int_equal(vq->busyloop_timeout, 0);
		assert_int_equal(vq->kick_fd, -1);
		assert_int_equal(vq->call_fd, -1);
		assert_int_equal(vq->err_fd, -1);
		assert_int_equal(vq->backend_fd, -1);
		assert_int_equal(vq->vhost_hlen, 0);
		assert_int_equal(vq->sock_hlen, 0);
	}
	assert_true(e->dev->acked_features[0] == 0 && e->dev->acked_features[1] == 0);
	assert_true(e->dev->acked_backend_features == 0);
	assert_int_equal(e->dev->log_fd, -1);
	/* The device can be owned again, and reads back fresh. */
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0), 0);
	assert_int_equal(env_out_state(e).num, 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, 1, 0), 0);
	assert_int_equal(env_out_state(e).num, 0);
	/* RESET_OWNER leaves an empty memory table, not none: the ring
	 * checks of NET_SET_BACKEND pass (they fail before any table). */
	assert_non_null(e->dev->mem);
	assert_int_equal(e->dev->mem->nregions, 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
}

static void reset_owner_stops_running_rings(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int imported;

	assert_int_equal(env_start_ring(e, 1, backend), 0);
	imported = e->dev->vqs[1].backend_fd;
	fake_dp_clear(&e->dp);
	e->dp.watch_fd = imported;
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_RESET_OWNER, 0), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(e->dp.ev[0].kind, DP_STOP);
	assert_int_equal(e->dp.ev[0].idx, 1);
	assert_true(e->dp.ev[0].watch_open);
	assert_false(fd_is_open(imported));
	assert_false(usv_vq_running(&e->dev->vqs[1]));
}

int main(void)
{
#define E(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		E(set_owner_makes_the_caller_the_owner),
		E(set_owner_on_an_owned_device_is_ebusy),
		E(set_owner_for_an_unreachable_process_fails_and_leaves_the_device_free),
		E(an_owner_that_execs_is_no_owner_any_more),
		E(an_owner_that_exits_is_no_owner_any_more),
		E(reset_owner_by_a_non_owner_is_eperm),
		E(reset_owner_returns_the_device_to_its_fresh_state),
		E(reset_owner_stops_running_rings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
