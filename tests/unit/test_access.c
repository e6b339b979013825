/* SPDX-License-Identifier: MIT */
/*
 * The access_ok() family of drivers/vhost/vhost.c as the core implements it:
 * x86-64 access_ok() (asm-generic form: size <= TASK_SIZE_MAX and
 * addr <= TASK_SIZE_MAX - size), log_access_ok() and the ring checks built
 * on them.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/vhost_ops.h"
#include "unit.h"

#define T USV_TASK_SIZE_MAX
#define PAGES_PER_BYTE (USV_VHOST_PAGE_SIZE * 8ULL) /* 32 KiB of guest per bitmap byte */

static void access_ok_accepts_ranges_ending_at_task_size_max(void **state)
{
	assert_true(usv_access_ok(0, 0));
	assert_true(usv_access_ok(0, 1));
	assert_true(usv_access_ok(0, T));
	assert_true(usv_access_ok(T - 1, 1));
	assert_true(usv_access_ok(T - 4096, 4096));
	assert_true(usv_access_ok(1, T - 1));
}

static void access_ok_refuses_ranges_past_task_size_max(void **state)
{
	assert_false(usv_access_ok(T - 1, 2));
	assert_false(usv_access_ok(T, 1));
	assert_false(usv_access_ok(T - 4096, 4097));
	assert_false(usv_access_ok(1, T));
	assert_false(usv_access_ok(0x800000000000ULL, 8));
	assert_false(usv_access_ok(0xffff800000000000ULL, 8)); /* kernel half */
}

static void access_ok_refuses_sizes_past_task_size_max(void **state)
{
	assert_false(usv_access_ok(0, T + 1));
	assert_false(usv_access_ok(0, UINT64_MAX));
	assert_false(usv_access_ok(0, 1ULL << 63));
}

static void access_ok_refuses_wrapping_ranges(void **state)
{
	assert_false(usv_access_ok(UINT64_MAX, 1));
	assert_false(usv_access_ok(UINT64_MAX, 2));
	assert_false(usv_access_ok(1, UINT64_MAX));
	assert_false(usv_access_ok(UINT64_MAX, UINT64_MAX));
	assert_false(usv_access_ok(UINT64_MAX - T + 1, T));
}

static void access_ok_of_zero_bytes_checks_the_address(void **state)
{
	assert_true(usv_access_ok(T, 0));
	assert_false(usv_access_ok(T + 1, 0));
	assert_false(usv_access_ok(UINT64_MAX, 0));
}

static void log_access_ok_needs_one_bitmap_byte_per_32k(void **state)
{
	/* Guest [0, 32 KiB) is bit 0..7 of the byte at log_base. */
	assert_true(usv_log_access_ok(T - 1, 0, 1));
	assert_true(usv_log_access_ok(T - 1, 0, PAGES_PER_BYTE));
	assert_false(usv_log_access_ok(T - 1, 0, PAGES_PER_BYTE + 1));
	assert_true(usv_log_access_ok(T - 2, 0, PAGES_PER_BYTE + 1));
	assert_true(usv_log_access_ok(T - 2, 0, 2 * PAGES_PER_BYTE));
	assert_false(usv_log_access_ok(T - 2, 0, 2 * PAGES_PER_BYTE + 1));
	/* No guest bytes: no bitmap bytes, only the address counts. */
	assert_true(usv_log_access_ok(T, 0, 0));
	assert_false(usv_log_access_ok(T, 0, 1));
	assert_false(usv_log_access_ok(T + 1, 0, 0));
}

static void log_access_ok_starts_at_the_byte_of_the_guest_address(void **state)
{
	/* Guest address 32 KiB * k is in byte log_base + k. */
	assert_true(usv_log_access_ok(T - 2, PAGES_PER_BYTE, 1));
	assert_true(usv_log_access_ok(T - 2, 2 * PAGES_PER_BYTE - 1, 1));
	assert_false(usv_log_access_ok(T - 2, 2 * PAGES_PER_BYTE, 1));
	assert_true(usv_log_access_ok(0, T * PAGES_PER_BYTE - PAGES_PER_BYTE, 1));
	/* The byte count comes from the size alone, as in the kernel: two
	 * guest bytes straddling two bitmap bytes are checked as one. */
	assert_true(usv_log_access_ok(T - 1, PAGES_PER_BYTE - 1, 2));
}

static void log_access_ok_refuses_bitmap_address_overflow(void **state)
{
	assert_false(usv_log_access_ok(UINT64_MAX, PAGES_PER_BYTE, 1));
	assert_false(usv_log_access_ok(UINT64_MAX - 1, 2 * PAGES_PER_BYTE, 0));
	assert_false(usv_log_access_ok(1, UINT64_MAX, 1));
	assert_false(usv_log_access_ok(UINT64_MAX, 0, 0));
}

static void log_access_ok_size_rounding_wraps_as_the_kernel(void **state)
{
	/* (size + 32767) / 32768 is computed in 64 bits and wraps for sizes
	 * near 2^64, exactly as log_access_ok()'s unsigned long does: zero
	 * bitmap bytes. Callers never pass such sizes (access_ok of the
	 * region itself fails first). */
	assert_true(usv_log_access_ok(0, 0, UINT64_MAX));
	assert_false(usv_log_access_ok(0, 0, UINT64_MAX - PAGES_PER_BYTE));
}

/* ---- the ring checks built on them ---------------------------------------- */

static int dev_setup(void **state)
{
	struct usv_dev *dev = usv_dev_new(0, usv_profile_default(), NULL, NULL);

	*state = dev;
	return dev ? 0 : -1;
}

static int dev_teardown(void **state)
{
	usv_dev_free(*state);
	return 0;
}

static struct usv_guestmem *mem1(uint64_t gpa, uint64_t size, uint64_t uaddr)
{
	struct usv_vhost_memory_region r = {
		.guest_phys_addr = gpa, .memory_size = size, .userspace_addr = uaddr,
	};
	struct usv_guestmem *m = NULL;

	assert_int_equal(usv_guestmem_new(&r, 1, &m), 0);
	return m;
}

static void ring_parts_must_fit_below_task_size_max(void **state)
{
	struct usv_dev *dev = *state;
	const uint32_t n = 256;
	const uint64_t desc = 16 * n, avail = 4 + 2 * n, used = 4 + 8 * n;

	assert_int_equal(usv_vring_desc_size(n), desc);
	assert_int_equal(usv_vring_avail_size(dev, n), avail);
	assert_int_equal(usv_vring_used_size(dev, n), used);
	assert_true(usv_vq_access_ok(dev, &dev->vqs[0], n, T - desc, T - avail, T - used));
	assert_false(usv_vq_access_ok(dev, &dev->vqs[0], n, T - desc + 1, 0, 0));
	assert_false(usv_vq_access_ok(dev, &dev->vqs[0], n, 0, T - avail + 2, 0));
	assert_false(usv_vq_access_ok(dev, &dev->vqs[0], n, 0, 0, T - used + 4));
	/* Misaligned or not, the desc table is only bounds-checked. */
	assert_true(usv_vq_access_ok(dev, &dev->vqs[0], n, 1, 0, 0));
}

static void event_idx_adds_two_bytes_to_avail_and_used(void **state)
{
	struct usv_dev *dev = *state;
	const uint32_t n = 256;
	const uint64_t avail = 4 + 2 * n, used = 4 + 8 * n;

	dev->acked_features[0] = USV_BIT(USV_F_RING_EVENT_IDX);
	assert_int_equal(usv_vring_avail_size(dev, n), avail + 2);
	assert_int_equal(usv_vring_used_size(dev, n), used + 2);
	assert_false(usv_vq_access_ok(dev, &dev->vqs[0], n, 0, T - avail, 0));
	assert_true(usv_vq_access_ok(dev, &dev->vqs[0], n, 0, T - avail - 2, 0));
	assert_false(usv_vq_access_ok(dev, &dev->vqs[0], n, 0, 0, T - used));
	assert_true(usv_vq_access_ok(dev, &dev->vqs[0], n, 0, 0, T - used - 4));
}

static void memory_table_regions_must_lie_in_user_space(void **state)
{
	struct usv_guestmem *m, *empty;

	assert_false(usv_vq_memory_access_ok(NULL, 0, false)); /* no table yet */
	assert_int_equal(usv_guestmem_new(NULL, 0, &empty), 0);
	assert_true(usv_vq_memory_access_ok(empty, 0, true)); /* RESET_OWNER's */
	usv_guestmem_free(empty);

	m = mem1(0, 0x10000, T - 0x10000);
	assert_true(usv_vq_memory_access_ok(m, 0, false));
	usv_guestmem_free(m);
	m = mem1(0, 0x10000, T - 0xffff);
	assert_false(usv_vq_memory_access_ok(m, 0, false));
	usv_guestmem_free(m);
	/* The whole-space region (size 0 at gpa 0) is never accessible. */
	m = mem1(0, 0, 0);
	assert_false(usv_vq_memory_access_ok(m, 0, false));
	usv_guestmem_free(m);
}

static void log_all_needs_a_bitmap_for_every_region(void **state)
{
	/* 64 KiB of guest at gpa 1 MiB: bitmap bytes 32 and 33. */
	struct usv_guestmem *m = mem1(0x100000, 0x10000, 0x10000000);

	assert_true(usv_vq_memory_access_ok(m, UINT64_MAX, false));
	assert_true(usv_vq_memory_access_ok(m, T - 34, true));
	assert_false(usv_vq_memory_access_ok(m, T - 33, true));
	usv_guestmem_free(m);
}

static void used_ring_log_is_checked_only_when_logged(void **state)
{
	struct usv_dev *dev = *state;
	struct usv_vq *vq = &dev->vqs[1];
	uint64_t used;

	vq->num = 256;
	used = usv_vring_used_size(dev, vq->num); /* 2052 bytes: one bitmap byte */
	assert_true(usv_vq_log_used_access_ok(dev, vq, UINT64_MAX, false, UINT64_MAX));
	assert_true(usv_vq_log_used_access_ok(dev, vq, T - 1, true, 0));
	assert_true(usv_vq_log_used_access_ok(dev, vq, T - 1, true, PAGES_PER_BYTE - used));
	assert_false(usv_vq_log_used_access_ok(dev, vq, T - 1, true, PAGES_PER_BYTE));
	assert_false(usv_vq_log_used_access_ok(dev, vq, 0, true, 0xfffffffffffff000ULL));
}

static void ring_is_ready_only_with_memory_log_and_addresses_in_reach(void **state)
{
	struct usv_dev *dev = *state;
	struct usv_vq *vq = &dev->vqs[0];

	/* A fresh ring (num 1, addresses 0) lacks only a memory table. */
	assert_false(usv_vq_ready(dev, vq));
	dev->mem = mem1(0, 0x10000, 0x10000000);
	assert_true(usv_vq_ready(dev, vq));
	vq->used = T;
	assert_false(usv_vq_ready(dev, vq));
	vq->used = 0;
	vq->log_used = true;
	vq->log_addr = UINT64_MAX & ~3ULL;
	assert_false(usv_vq_ready(dev, vq));
	vq->log_used = false;
	dev->acked_features[0] = USV_BIT(USV_F_LOG_ALL);
	vq->log_base = T;
	assert_false(usv_vq_ready(dev, vq));
	vq->log_base = 0;
	assert_true(usv_vq_ready(dev, vq));
	/* dev->mem is freed with the device. */
}

static void same_file_compares_open_files_not_numbers(void **state)
{
	int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);
	int a2 = dup(a);

	assert_true(usv_same_file(a, a));
	assert_true(usv_same_file(a, a2));
	assert_false(usv_same_file(a, b));
	assert_true(usv_same_file(-1, -1));
	assert_false(usv_same_file(a, -1));
	assert_false(usv_same_file(-1, a));
	close(a);
	close(a2);
	close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(access_ok_accepts_ranges_ending_at_task_size_max),
		cmocka_unit_test(access_ok_refuses_ranges_past_task_size_max),
		cmocka_unit_test(access_ok_refuses_sizes_past_task_size_max),
		cmocka_unit_test(access_ok_refuses_wrapping_ranges),
		cmocka_unit_test(access_ok_of_zero_bytes_checks_the_address),
		cmocka_unit_test(log_access_ok_needs_one_bitmap_byte_per_32k),
		cmocka_unit_test(log_access_ok_starts_at_the_byte_of_the_guest_address),
		cmocka_unit_test(log_access_ok_refuses_bitmap_address_overflow),
		cmocka_unit_test(log_access_ok_size_rounding_wraps_as_the_kernel),
		cmocka_unit_test_setup_teardown(ring_parts_must_fit_below_task_size_max,
						dev_setup, dev_teardown),
		cmocka_unit_test_setup_teardown(event_idx_adds_two_bytes_to_avail_and_used,
						dev_setup, dev_teardown),
		cmocka_unit_test(memory_table_regions_must_lie_in_user_space),
		cmocka_unit_test(log_all_needs_a_bitmap_for_every_region),
		cmocka_unit_test_setup_teardown(used_ring_log_is_checked_only_when_logged,
						dev_setup, dev_teardown),
		cmocka_unit_test_setup_teardown(
			ring_is_ready_only_with_memory_log_and_addresses_in_reach,
			dev_setup, dev_teardown),
		cmocka_unit_test(same_file_compares_open_files_not_numbers),
	};

	unit_log_setup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
