/* SPDX-License-Identifier: MIT */
/*
 * The datapath's ring buffers come all or none: a ring start that runs out
 * of memory halfway keeps nothing and leaves every pointer NULL, so that the
 * next start allocates them again instead of running a ring with NULL
 * buffers. The allocator is usv_dp_ring_alloc()'s seam: a calloc that fails
 * at the Nth call. LeakSanitizer (--enable-sanitizers) checks that the
 * pieces allocated before the failure are freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "datapath/dp_internal.h"

static unsigned calls, fail_at; /* the failing allocator's state */

static void *failing_calloc(size_t n, size_t size)
{
	return ++calls == fail_at ? NULL : calloc(n, size);
}

static void *counting_calloc(size_t n, size_t size)
{
	calls++;
	return calloc(n, size);
}

static void assert_no_buffers(const struct usv_dp_ring *r)
{
	assert_null(r->segs);
	assert_null(r->iov);
	assert_null(r->chains);
	assert_null(r->arena);
	assert_null(r->scratch);
	assert_null(r->pending);
}

static void assert_buffers(const struct usv_dp_ring *r)
{
	bool tx = r->idx == USV_VQ_TX;

	assert_non_null(r->segs);
	assert_non_null(r->iov);
	assert_non_null(r->chains);
	/* Each direction has its own staging: TX an arena, RX a tail and a
	 * held frame. */
	assert_true(tx ? r->arena != NULL : r->arena == NULL);
	assert_true(tx ? r->scratch == NULL : r->scratch != NULL);
	assert_true(tx ? r->pending == NULL : r->pending != NULL);
}

/* Every allocation of a ring's set fails in turn: nothing is kept, and the
 * next start gets the whole set. */
static void failing_at_each_allocation_keeps_nothing(unsigned idx)
{
	struct usv_dp_ring r;
	unsigned total;

	memset(&r, 0, sizeof(r));
	r.idx = idx;
	calls = 0;
	assert_int_equal(usv_dp_ring_alloc(&r, counting_calloc), 0);
	total = calls;
	assert_true(total >= 4);
	usv_dp_ring_free(&r);
	assert_no_buffers(&r);
	for (fail_at = 1; fail_at <= total; fail_at++) {
		calls = 0;
		assert_int_equal(usv_dp_ring_alloc(&r, failing_calloc), -ENOMEM);
		assert_no_buffers(&r);
		/* The retry (the next NET_SET_BACKEND) allocates everything. */
		assert_int_equal(usv_dp_ring_alloc(&r, calloc), 0);
		assert_buffers(&r);
		usv_dp_ring_free(&r);
	}
}

static void tx_ring_buffers_come_all_or_none(void **state)
{
	(void)state;
	failing_at_each_allocation_keeps_nothing(USV_VQ_TX);
}

static void rx_ring_buffers_come_all_or_none(void **state)
{
	(void)state;
	failing_at_each_allocation_keeps_nothing(USV_VQ_RX);
}

static void a_second_start_keeps_the_buffers_it_has(void **state)
{
	struct usv_dp_ring r;
	void *segs;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.idx = USV_VQ_RX;
	assert_int_equal(usv_dp_ring_alloc(&r, calloc), 0);
	segs = r.segs;
	calls = 0;
	assert_int_equal(usv_dp_ring_alloc(&r, counting_calloc), 0);
	assert_int_equal(calls, 0);
	assert_ptr_equal(r.segs, segs);
	assert_buffers(&r);
	usv_dp_ring_free(&r);
	assert_no_buffers(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tx_ring_buffers_come_all_or_none),
		cmocka_unit_test(rx_ring_buffers_come_all_or_none),
		cmocka_unit_test(a_second_start_keeps_the_buffers_it_has),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
