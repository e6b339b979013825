/* SPDX-License-Identifier: MIT */
/*
 * Every allocation the core makes can fail. QEMU's start and stop sequence
 * is run once to count the core's allocations, then again once per
 * allocation with that one failing. Each run must answer ENOMEM at the
 * request whose allocation failed (the requests before it answer 0), leave
 * the device usable (the same request, sent again, succeeds and the
 * sequence runs to its end), and release everything (the fixture counts
 * fds at teardown; LeakSanitizer checks memory in the ASan run). The same
 * for opening a device on the list.
 *
 * malloc, calloc, realloc and strdup are wrapped at link time
 * (-Wl,--wrap=...): only calls made from the test and the core's objects
 * count, not the C library's own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ioctl_fixture.h"

/* ---- the allocator seam --------------------------------------------------- */

/* Counting is on only around the code under test; 0 in fail_at: none fails. */
static struct {
	bool counting;
	unsigned count;
	unsigned fail_at;
	unsigned failed;
} alloc;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

static bool alloc_fails(void)
{
	if (!alloc.counting)
		return false;
	if (++alloc.count != alloc.fail_at)
		return false;
	alloc.failed++;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return alloc_fails() ? NULL : __real_strdup(s);
}

static void alloc_arm(unsigned fail_at)
{
	alloc.count = 0;
	alloc.failed = 0;
	alloc.fail_at = fail_at;
	alloc.counting = true;
}

static void alloc_disarm(void)
{
	alloc.counting = false;
}

/* ---- QEMU's sequence, step by step ------------------------------------------ */

enum step {
	ST_OWNER, ST_GET_FEATURES, ST_SET_FEATURES, ST_MEM, ST_RING0, ST_RING1,
	ST_MEM_AGAIN, ST_BASE0, ST_BASE1, ST_RESET, ST_N
};

static const char *const step_name[ST_N] = {
	"SET_OWNER", "GET_FEATURES", "SET_FEATURES", "SET_MEM_TABLE",
	"ring 0 NUM, ADDR, NET_SET_BACKEND", "ring 1 NUM, ADDR, NET_SET_BACKEND",
	"SET_MEM_TABLE with both rings running", "GET_VRING_BASE 0",
	"GET_VRING_BASE 1", "RESET_OWNER",
};

static int run_step(struct env *e, enum step s, int backend)
{
	switch (s) {
	case ST_OWNER:
		return env_set_owner(e);
	case ST_GET_FEATURES:
		return env_u64(e, &e->owner, USV_VHOST_GET_FEATURES, 0);
	case ST_SET_FEATURES:
		return env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, MRG | V1);
	case ST_MEM:
	case ST_MEM_AGAIN:
		return env_mem_guest(e);
	case ST_RING0:
		return env_start_ring(e, 0, backend);
	case ST_RING1:
		return env_start_ring(e, 1, backend);
	case ST_BASE0:
		return env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0);
	case ST_BASE1:
		return env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0);
	case ST_RESET:
		return env_ioctl(e, &e->owner, USV_VHOST_RESET_OWNER, NULL, 0);
	default:
		return -EINVAL;
	}
}

/* Runs the sequence with allocation fail_at failing (0: none). Returns the
 * allocations counted. */
static unsigned run_sequence(struct env *e, int backend, unsigned fail_at)
{
	enum step failed_step = ST_N;
	unsigned counted;

	alloc_arm(fail_at);
	for (enum step s = 0; s < ST_N; s++) {
		int ret = run_step(e, s, backend);

		if (ret == 0)
			continue;
		if (ret != -ENOMEM || failed_step != ST_N || !alloc.failed)
			fail_msg("allocation %u of %u failing: %s answered %d (%s), expected 0 "
				 "or, where the allocation failed, -ENOMEM",
				 fail_at, alloc.count, step_name[s], ret, strerror(-ret));
		failed_step = s;
		/* The failed request leaves the device as it was: sent again
		 * with memory to spare, it succeeds. */
		alloc.fail_at = 0;
		ret = run_step(e, s, backend);
		if (ret)
			fail_msg("allocation %u: %s failed with ENOMEM, then answered %d (%s) "
				 "when sent again", fail_at, step_name[s], ret, strerror(-ret));
	}
	counted = alloc.count;
	alloc_disarm();
	if (fail_at && failed_step == ST_N)
		fail_msg("allocation %u of the sequence failed and no request said so", fail_at);
	/* After RESET_OWNER nothing runs and the memory table is empty, as
	 * vhost_dev_reset_owner() leaves it. */
	assert_false(usv_vq_running(&e->dev->vqs[0]));
	assert_false(usv_vq_running(&e->dev->vqs[1]));
	assert_true(!e->dev->mem || e->dev->mem->nregions == 0);
	return counted;
}

static void every_allocation_of_qemus_sequence_can_fail(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	unsigned total = run_sequence(e, backend, 0);

	/* The core allocates at least the memory table twice and the region
	 * lists it reads from /proc. */
	assert_true(total >= 2);
	for (unsigned n = 1; n <= total; n++)
		run_sequence(e, backend, n);
	print_message("every one of the sequence's %u allocations failed in turn, each "
		      "answered ENOMEM and recovered\n", total);
}

static void opening_a_device_survives_every_allocation_failing(void **state)
{
	struct env *e = *state;
	unsigned handle, n, sites = 0;
	int ret;

	/* A new opener uid: the per-uid table grows too. */
	for (n = 1;; n++) {
		unsigned before = e->list.count;

		alloc_arm(n);
		ret = usv_devlist_add_uid(&e->list, 4242, &handle);
		alloc_disarm();
		if (!alloc.failed) {
			/* Fewer than n allocations: every one has failed. */
			assert_int_equal(ret, 0);
			usv_devlist_remove(&e->list, handle);
			break;
		}
		sites++;
		assert_int_equal(ret, -ENOMEM);
		assert_int_equal(e->list.count, before);
	}
	assert_true(sites >= 1);
	print_message("opening a device: %u allocations, each failed in turn with ENOMEM\n",
		      sites);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_allocation_of_qemus_sequence_can_fail,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(opening_a_device_survives_every_allocation_failing,
						env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
