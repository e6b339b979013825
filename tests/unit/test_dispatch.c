/* SPDX-License-Identifier: MIT */
/*
 * Dispatch: who may call and the order of the kernel's checks (owner, index,
 * pointer), unknown and endian ioctls falling through, feature ioctls with
 * no owner, and how a caller's thread id becomes its process.
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

static const uint32_t vring_cmds[] = {
	USV_VHOST_SET_VRING_NUM, USV_VHOST_SET_VRING_ADDR, USV_VHOST_SET_VRING_BASE,
	USV_VHOST_GET_VRING_BASE, USV_VHOST_SET_VRING_KICK, USV_VHOST_SET_VRING_CALL,
	USV_VHOST_SET_VRING_ERR, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
	USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, USV_VHOST_SET_VRING_ENDIAN,
	USV_VHOST_GET_VRING_ENDIAN,
};
#define N_VRING_CMDS (sizeof(vring_cmds) / sizeof(vring_cmds[0]))

static const uint32_t dev_cmds[] = {
	USV_VHOST_SET_MEM_TABLE, USV_VHOST_SET_LOG_BASE, USV_VHOST_SET_LOG_FD,
};

static const char *cmd_name(uint32_t cmd)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(cmd);

	return d ? d->name : "unknown";
}

/* ---- dispatch: who may call, and the order of the kernel's checks -------- */

static void vring_and_dev_ioctls_from_a_non_owner_are_eperm_before_any_read(void **state)
{
	struct env *e = *state;

	for (int owned = 0; owned < 2; owned++) {
		if (owned)
			assert_int_equal(env_set_owner(e), 0);
		for (unsigned i = 0; i < N_VRING_CMDS; i++) {
			const char *n = cmd_name(vring_cmds[i]);

			check_ret(env_ioctl_at(e, &e->other, vring_cmds[i], UFAKE_BAD), -EPERM,
				  "%s bad arg, owned=%d", n, owned);
			check_ret(env_state(e, &e->other, vring_cmds[i], 0, 1), -EPERM,
				  "%s, owned=%d", n, owned);
			/* Before SET_OWNER, nobody is the owner. */
			if (!owned)
				check_ret(env_state(e, &e->owner, vring_cmds[i], 0, 1), -EPERM,
					  "%s from the future owner", n);
		}
		for (unsigned i = 0; i < 3; i++)
			check_ret(env_ioctl_at(e, &e->other, dev_cmds[i], UFAKE_BAD), -EPERM,
				  "%s bad arg, owned=%d", cmd_name(dev_cmds[i]), owned);
	}
}

static void vring_ioctls_from_the_owner_with_a_bad_pointer_are_efault(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	for (unsigned i = 0; i < N_VRING_CMDS; i++)
		check_ret(env_ioctl_at(e, &e->owner, vring_cmds[i], UFAKE_BAD), -EFAULT,
			  "%s", cmd_name(vring_cmds[i]));
	for (unsigned i = 0; i < 3; i++)
		check_ret(env_ioctl_at(e, &e->owner, dev_cmds[i], UFAKE_BAD), -EFAULT,
			  "%s", cmd_name(dev_cmds[i]));
}

static void vring_ioctls_for_index_2_and_up_are_enobufs(void **state)
{
	struct env *e = *state;
	const uint32_t idx[] = { 2, 3, 0x100, UINT32_MAX };

	assert_int_equal(env_set_owner(e), 0);
	for (unsigned i = 0; i < N_VRING_CMDS; i++)
		for (unsigned j = 0; j < 4; j++)
			check_ret(env_state(e, &e->owner, vring_cmds[i], idx[j], 1), -ENOBUFS,
				  "%s index %" PRIu32, cmd_name(vring_cmds[i]), idx[j]);
}

static void vring_ioctls_with_only_the_index_readable_are_efault(void **state)
{
	struct env *e = *state;
	const uint32_t cmds[] = {
		USV_VHOST_SET_VRING_NUM, USV_VHOST_SET_VRING_ADDR, USV_VHOST_SET_VRING_BASE,
		USV_VHOST_GET_VRING_BASE, USV_VHOST_SET_VRING_KICK, USV_VHOST_SET_VRING_CALL,
		USV_VHOST_SET_VRING_ERR, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
		USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
	};

	assert_int_equal(env_set_owner(e), 0);
	memset(e->u.buf + UFAKE_SIZE - 4, 0, 4); /* index 0 */
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		check_ret(env_ioctl_at(e, &e->owner, cmds[i], ARG_LAST4), -EFAULT,
			  "%s", cmd_name(cmds[i]));
	/* The endian ioctls need nothing past the index: ENOTTY. */
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_SET_VRING_ENDIAN, ARG_LAST4), -ENOTTY);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_GET_VRING_ENDIAN, ARG_LAST4), -ENOTTY);
}

static void unknown_ioctls_take_the_kernel_fall_through(void **state)
{
	struct env *e = *state;
	const uint32_t cmds[] = {
		_IO(USV_VHOST_VIRTIO, 0x7f), _IOW(USV_VHOST_VIRTIO, 0x50, uint64_t),
		_IOR('T', 0xca, int), 0xdeadbeef, 0,
		/* other vhost devices' ioctls */
		USV_VHOST_NEW_WORKER, USV_VHOST_FREE_WORKER, USV_VHOST_ATTACH_VRING_WORKER,
		USV_VHOST_GET_VRING_WORKER, USV_VHOST_SET_FORK_FROM_OWNER,
		USV_VHOST_GET_FORK_FROM_OWNER,
	};

	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		check_ret(env_ioctl_at(e, &e->other, cmds[i], UFAKE_BAD), -EPERM,
			  "0x%08" PRIx32 " unowned", cmds[i]);
	assert_int_equal(env_set_owner(e), 0);
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const uint32_t c = cmds[i];

		check_ret(env_state(e, &e->other, c, 0, 0), -EPERM, "0x%08" PRIx32 " other", c);
		check_ret(env_ioctl_at(e, &e->owner, c, UFAKE_BAD), -EFAULT, "0x%08" PRIx32 " bad arg", c);
		check_ret(env_state(e, &e->owner, c, 2, 0), -ENOBUFS, "0x%08" PRIx32 " index 2", c);
		check_ret(env_state(e, &e->owner, c, 0, 0), -ENOTTY, "0x%08" PRIx32 " index 0", c);
		check_ret(env_state(e, &e->owner, c, 1, 0), -ENOTTY, "0x%08" PRIx32 " index 1", c);
	}
}

static void vring_endian_ioctls_are_enotty(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_ENDIAN, 0, 1), -ENOTTY);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_ENDIAN, 1, 0), -ENOTTY);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_ENDIAN, 0, 0), -ENOTTY);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_ENDIAN, 1, 0), -ENOTTY);
}

static void feature_ioctls_need_no_owner(void **state)
{
	struct env *e = *state;
	uint64_t arr[3] = { 2, MRG, 0 };

	for (int owned = 0; owned < 2; owned++) {
		if (owned)
			assert_int_equal(env_set_owner(e), 0);
		assert_int_equal(env_u64(e, &e->other, USV_VHOST_GET_FEATURES, 0), 0);
		assert_true(env_out_u64(e, 0) == (OFFERED | USV_BIT(USV_F_ACCESS_PLATFORM)));
		assert_int_equal(env_u64(e, &e->other, USV_VHOST_SET_FEATURES, MRG), 0);
		assert_int_equal(env_u64(e, &e->other, USV_VHOST_GET_BACKEND_FEATURES, 0), 0);
		assert_true(env_out_u64(e, 0) == 0x2);
		assert_int_equal(env_u64(e, &e->other, USV_VHOST_SET_BACKEND_FEATURES, 0x2), 0);
		assert_int_equal(env_ioctl(e, &e->other, USV_VHOST_GET_FEATURES_ARRAY, arr, 24), 0);
		assert_true(env_out_u64(e, 8) == (OFFERED | USV_BIT(USV_F_ACCESS_PLATFORM)));
		arr[1] = V1;
		assert_int_equal(env_ioctl(e, &e->other, USV_VHOST_SET_FEATURES_ARRAY, arr, 24), 0);
	}
	assert_true(e->dev->acked_features[0] == V1);
}

static void feature_ioctls_with_a_bad_pointer_are_efault(void **state)
{
	struct env *e = *state;
	const uint32_t cmds[] = {
		USV_VHOST_GET_FEATURES, USV_VHOST_SET_FEATURES,
		USV_VHOST_GET_BACKEND_FEATURES, USV_VHOST_SET_BACKEND_FEATURES,
		USV_VHOST_GET_FEATURES_ARRAY, USV_VHOST_SET_FEATURES_ARRAY,
	};

	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(env_ioctl_at(e, &e->other, cmds[i], UFAKE_BAD), -EFAULT);
		/* Half of the u64 is readable: still a fault. */
		assert_int_equal(env_ioctl_at(e, &e->other, cmds[i], ARG_LAST4), -EFAULT);
	}
}

/* A thread of this process, alive until released. */
struct sleeper {
	pthread_t t;
	pid_t tid;
	pthread_barrier_t ready;
	int pipe[2];
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	char c;

	s->tid = gettid();
	pthread_barrier_wait(&s->ready);
	if (read(s->pipe[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

static void sleeper_start(struct env *e, struct sleeper *s)
{
	assert_int_equal(pipe2(s->pipe, O_CLOEXEC), 0);
	env_keep(e, s->pipe[0]);
	env_keep(e, s->pipe[1]);
	assert_int_equal(pthread_barrier_init(&s->ready, NULL, 2), 0);
	assert_int_equal(pthread_create(&s->t, NULL, sleeper_main, s), 0);
	pthread_barrier_wait(&s->ready);
	assert_true(s->tid != getpid());
}

static void sleeper_stop(struct sleeper *s)
{
	assert_int_equal(write(s->pipe[1], "x", 1), 1);
	pthread_join(s->t, NULL);
	pthread_barrier_destroy(&s->ready);
}

static void a_caller_known_by_thread_id_is_resolved_to_its_process(void **state)
{
	struct env *e = *state;
	struct sleeper s;
	struct usv_caller thread = { 0 };

	sleeper_start(e, &s);
	thread.tid = s.tid; /* tgid 0: to be resolved */
	/* Unowned: resolved through /proc/<tid>/status; the process owns it. */
	assert_int_equal(env_ioctl_at(e, &thread, USV_VHOST_SET_OWNER, 0), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
	/* Owned: any thread of the owner passes the owner check. */
	assert_int_equal(env_state(e, &thread, USV_VHOST_SET_VRING_NUM, 1, 64), 0);
	assert_int_equal(env_state(e, &thread, USV_VHOST_SET_OWNER, 0, 0), -EBUSY);
	sleeper_stop(&s);
}

static void a_caller_thread_that_is_gone_gets_eperm(void **state)
{
	struct env *e = *state;
	struct usv_caller gone = { .tid = 0x7ffffff0 }; /* above any pid_max */

	assert_int_equal(env_ioctl_at(e, &gone, USV_VHOST_SET_OWNER, 0), -EPERM);
	assert_int_equal(env_u64(e, &gone, USV_VHOST_GET_FEATURES, 0), -EPERM);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_state(e, &gone, USV_VHOST_SET_VRING_NUM, 0, 64), -EPERM);
}

static void a_caller_lookup_out_of_fds_answers_emfile_not_eperm(void **state)
{
	struct env *e = *state;
	struct usv_caller thread = { .tid = getpid() }; /* tgid to be resolved */
	struct rlimit old, low;
	int unowned, owned;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)closed_fd_number(); /* no fd can be opened */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* Unowned: /proc/<tid>/status must be opened, and cannot be. The
	 * daemon's own limit is no "permission denied". */
	unowned = env_u64(e, &thread, USV_VHOST_GET_FEATURES, 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(unowned, -EMFILE);

	/* Owned: the owner's threads are proven by one stat, no fd. */
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	owned = env_state(e, &thread, USV_VHOST_SET_VRING_NUM, 0, 64);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(owned, 0);
}

int main(void)
{
#define E(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		E(vring_and_dev_ioctls_from_a_non_owner_are_eperm_before_any_read),
		E(vring_ioctls_from_the_owner_with_a_bad_pointer_are_efault),
		E(vring_ioctls_for_index_2_and_up_are_enobufs),
		E(vring_ioctls_with_only_the_index_readable_are_efault),
		E(unknown_ioctls_take_the_kernel_fall_through),
		E(vring_endian_ioctls_are_enotty),
		E(feature_ioctls_need_no_owner),
		E(feature_ioctls_with_a_bad_pointer_are_efault),
		E(a_caller_known_by_thread_id_is_resolved_to_its_process),
		E(a_caller_thread_that_is_gone_gets_eperm),
		E(a_caller_lookup_out_of_fds_answers_emfile_not_eperm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
