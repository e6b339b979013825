/* SPDX-License-Identifier: MIT */
/*
 * What the datapath is told about a running ring through its ops (start,
 * stop, update with a mask, sync before GET_VRING_BASE), in the kernel's
 * flush order, and rings that run with no datapath at all.
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

static void vring_call_on_a_running_ring_updates_it_before_closing_the_old_fd(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int c1 = env_eventfd(e), c2 = env_eventfd(e);
	int old;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, 1, c1), 0);
	assert_int_equal(env_start_ring(e, 1, backend), 0);
	old = e->dev->vqs[1].call_fd;
	fake_dp_clear(&e->dp);
	e->dp.watch_fd = old;
	/* QEMU masks/unmasks interrupts this way while the ring runs. */
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, 1, c2), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(e->dp.ev[0].kind, DP_UPDATE);
	assert_int_equal(e->dp.ev[0].idx, 1);
	assert_int_equal(e->dp.ev[0].what, USV_RING_CALL);
	assert_true(e->dp.ev[0].watch_open);           /* old fd still open then */
	assert_true(e->dp.ev[0].call_fd != old);       /* the new one in place */
	assert_true(usv_same_file(e->dp.ev[0].call_fd, c2));
	assert_false(fd_is_open(old));                 /* closed afterwards */
	/* And back, and unbound. */
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, 1, c1), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, 1, -1), 0);
	assert_int_equal(dp_count(e, DP_UPDATE, 1, USV_RING_CALL), 3);
	assert_int_equal(dp_last(e)->call_fd, -1);
}

static void vring_kick_and_err_on_a_running_ring_are_announced(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int k1 = env_eventfd(e), k2 = env_eventfd(e), er = env_eventfd(e);
	int old;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, 0, k1), 0);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	old = e->dev->vqs[0].kick_fd;
	fake_dp_clear(&e->dp);
	e->dp.watch_fd = old;
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, 0, k2), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(e->dp.ev[0].what, USV_RING_KICK);
	assert_true(e->dp.ev[0].watch_open);
	assert_false(fd_is_open(old));
	/* The same eventfd again changes nothing (the kernel compares files). */
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, 0, k2), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_ERR, 0, er), 0);
	assert_int_equal(e->dp.n, 2);
	assert_int_equal(dp_last(e)->what, USV_RING_ERR);
	assert_true(usv_same_file(dp_last(e)->err_fd, er));
}

static void changes_to_a_running_ring_are_announced_with_their_mask(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int l = env_eventfd(e);
	const uint64_t arr[] = { 2, MRG, 0 };
	struct usv_vhost_memory_region r[2] = { guest_region(e, 0, ENV_GUEST_SIZE / 2),
						guest_region(e, 1, ENV_GUEST_SIZE / 2) };

	assert_int_equal(env_start_ring(e, 1, backend), 0);
	fake_dp_clear(&e->dp);

	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 1, 10), 0);
	assert_int_equal(dp_last(e)->what, USV_RING_BUSYLOOP);
	assert_int_equal(env_vring_addr(e, 1, 0, env_ring_desc(e, 1), env_ring_used(e, 1),
					env_ring_avail(e, 1), 0), 0);
	assert_int_equal(dp_last(e)->what, USV_RING_ADDR);
	assert_int_equal(env_mem_table(e, r, 2), 0);
	assert_int_equal(dp_last(e)->what, USV_RING_MEM);
	assert_int_equal(dp_last(e)->mem_nregions, 2); /* the new table in place */
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, 0x100000), 0);
	assert_int_equal(dp_last(e)->what, USV_RING_LOG);
	assert_int_equal(set_log_fd(e, l), 0);
	assert_int_equal(dp_last(e)->what, USV_RING_LOG);
	assert_true(dp_last(e)->log_fd >= 0);
	assert_int_equal(set_log_fd(e, -1), 0);
	assert_int_equal(dp_last(e)->log_fd, -1);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, MRG | V1), 0);
	assert_int_equal(dp_last(e)->what, USV_RING_FEATURES);
	assert_int_equal(env_ioctl(e, &e->owner, USV_VHOST_SET_FEATURES_ARRAY, arr, sizeof(arr)), 0);
	assert_int_equal(dp_last(e)->what, USV_RING_FEATURES);
	assert_int_equal(e->dp.n, 8);
	/* Every one went to ring 1, the only one running. */
	for (unsigned i = 0; i < e->dp.n; i++) {
		assert_int_equal(e->dp.ev[i].kind, DP_UPDATE);
		assert_int_equal(e->dp.ev[i].idx, 1);
	}
}

static void changes_to_a_stopped_ring_are_not_announced(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int c = env_eventfd(e);

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	fake_dp_clear(&e->dp);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, 1, c), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, 1, c), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_ERR, 1, c), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 1, 10), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 1, 64), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, 3), 0);
	assert_int_equal(env_vring_addr(e, 1, 0, 0, 0, 0, 0), 0);
	assert_int_equal(e->dp.n, 0);
	/* Device-wide changes reach ring 0 only. */
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, 0), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(e->dp.ev[0].idx, 0);
}

static void get_vring_base_of_a_running_ring_asks_the_datapath_first(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 1, 11), 0);
	fake_dp_clear(&e->dp);
	e->dp.sync_avail = 4321;
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(e->dp.ev[0].kind, DP_SYNC);
	assert_int_equal(e->dp.ev[0].idx, 0);
	assert_int_equal(env_out_state(e).index, 0);
	assert_int_equal(env_out_state(e).num, 4321);
	/* A stopped ring's base is the core's own. */
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(env_out_state(e).num, 11);
	/* After the ring stops, GET_VRING_BASE asks nobody. */
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
	fake_dp_clear(&e->dp);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(e->dp.n, 0);
	assert_int_equal(env_out_state(e).num, 4321);
}

/* With no datapath at all (a list built without ops), rings still start and stop. */
static int env_setup_no_dp(void **state)
{
	int ret = env_setup(state);
	struct env *e = *state;

	if (ret)
		return ret;
	e->dev->dp = NULL;
	return 0;
}

static void rings_run_without_a_datapath(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int c = env_eventfd(e);

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, 0, c), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_RESET_OWNER, 0), 0);
	assert_int_equal(e->dp.n, 0);
}

int main(void)
{
#define E(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		E(vring_call_on_a_running_ring_updates_it_before_closing_the_old_fd),
		E(vring_kick_and_err_on_a_running_ring_are_announced),
		E(changes_to_a_running_ring_are_announced_with_their_mask),
		E(changes_to_a_stopped_ring_are_not_announced),
		E(get_vring_base_of_a_running_ring_asks_the_datapath_first),
		cmocka_unit_test_setup_teardown(rings_run_without_a_datapath,
						env_setup_no_dp, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
