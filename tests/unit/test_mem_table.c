/* SPDX-License-Identifier: MIT */
/*
 * SET_MEM_TABLE: padding and region limits, faults and wrapping regions,
 * regions bound to the owner's memory, a failed table keeping the previous
 * one, and the dirty-log bitmap a running ring needs with LOG_ALL; a region
 * limit other than 64 (usvhostd --max-mem-regions), tables swapped under a
 * running ring as DIMMs are hot-plugged.
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

static int mem_hdr_at(struct env *e, size_t off, uint32_t nregions, uint32_t padding)
{
	struct usv_vhost_memory hdr = { .nregions = nregions, .padding = padding };

	memcpy(e->u.buf + off, &hdr, sizeof(hdr));
	return env_ioctl_at(e, &e->owner, USV_VHOST_SET_MEM_TABLE, ufake_addr(off));
}

static void mem_table_padding_is_eopnotsupp_before_e2big(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(mem_hdr_at(e, 0, 1, 1), -EOPNOTSUPP);
	assert_int_equal(mem_hdr_at(e, 0, 65, 1), -EOPNOTSUPP);
	assert_int_equal(mem_hdr_at(e, 0, 0, UINT32_MAX), -EOPNOTSUPP);
	assert_null(e->dev->mem);
}

static void mem_table_over_64_regions_is_e2big_before_reading_them(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	/* Only the header is readable: E2BIG comes first. */
	assert_int_equal(mem_hdr_at(e, UFAKE_SIZE - 8, 65, 0), -E2BIG);
	assert_int_equal(mem_hdr_at(e, UFAKE_SIZE - 8, UINT32_MAX, 0), -E2BIG);
	assert_int_equal(mem_hdr_at(e, UFAKE_SIZE - 8, 64, 0), -EFAULT);
	assert_null(e->dev->mem);
}

static void mem_table_of_64_regions_is_accepted(void **state)
{
	struct env *e = *state;
	struct usv_vhost_memory_region r[64];

	assert_int_equal(env_set_owner(e), 0);
	for (unsigned i = 0; i < 64; i++)
		r[i] = guest_region(e, i, ENV_GUEST_SIZE / 64);
	assert_int_equal(env_mem_table(e, r, 64), 0);
	assert_int_equal(e->dev->mem->nregions, 64);
	assert_int_equal(env_mem_table(e, r, 0), 0); /* and an empty table */
	assert_int_equal(e->dev->mem->nregions, 0);
}

static void mem_table_with_a_short_region_array_is_efault(void **state)
{
	struct env *e = *state;
	struct usv_vhost_memory_region r = guest_region(e, 0, 0x1000);
	size_t off = UFAKE_SIZE - 8 - sizeof(r); /* header and one region fit */

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	memcpy(e->u.buf + off + 8, &r, sizeof(r));
	assert_int_equal(mem_hdr_at(e, off, 2, 0), -EFAULT);
	/* The old table stays. */
	assert_int_equal(e->dev->mem->nregions, 1);
	assert_true(e->dev->mem->regions[0].last == ENV_GUEST_SIZE - 1);
	assert_int_equal(mem_hdr_at(e, off, 1, 0), 0);
	assert_true(e->dev->mem->regions[0].last == 0xfff);
}

static void mem_table_with_a_zero_size_region_at_nonzero_gpa_is_efault(void **state)
{
	struct env *e = *state;
	struct usv_vhost_memory_region r[2] = { guest_region(e, 0, 0x1000),
						guest_region(e, 1, 0x1000) };

	assert_int_equal(env_set_owner(e), 0);
	r[1].memory_size = 0;
	assert_int_equal(env_mem_table(e, r, 2), -EFAULT);
	assert_int_equal(env_mem_table(e, &r[1], 1), -EFAULT);
	assert_null(e->dev->mem);
}

static void mem_table_with_a_wrapping_region_is_efault(void **state)
{
	struct env *e = *state;
	struct usv_vhost_memory_region r = guest_region(e, 0, 0x2000);

	assert_int_equal(env_set_owner(e), 0);
	r.guest_phys_addr = UINT64_MAX - 0xfff;
	assert_int_equal(env_mem_table(e, &r, 1), -EFAULT);
	r.guest_phys_addr = 0x1000;
	r.memory_size = UINT64_MAX;
	assert_int_equal(env_mem_table(e, &r, 1), -EFAULT);
	assert_null(e->dev->mem);
	/* Ending on the very last byte does not wrap. */
	r.guest_phys_addr = UINT64_MAX - 0x1fff;
	r.memory_size = 0x2000;
	assert_int_equal(env_mem_table(e, &r, 1), 0);
}

static void mem_table_zero_size_at_gpa_0_is_the_whole_space(void **state)
{
	struct env *e = *state;
	struct usv_vhost_memory_region r = guest_region(e, 0, 0);
	uint64_t uva;

	/* A kernel quirk: vhost_iotlb_add_range(0, ~0ULL) maps everything. */
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_table(e, &r, 1), 0);
	assert_int_equal(e->dev->mem->nregions, 1);
	assert_int_equal(usv_gpa_to_uva(e->dev->mem, UINT64_MAX, 1, &uva), 0);
	assert_int_equal(usv_gpa_to_uva(e->dev->mem, 0, UINT64_MAX, &uva), 0);
	/* No ring can start on it: its user range is not in user space. */
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), -EFAULT);
}

static void mem_table_regions_are_bound_to_the_owners_memory(void **state)
{
	struct env *e = *state;
	int mfd = env_keep(e, memfd_create("usv-unit", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	uint8_t *shared, v = 0;
	struct usv_vhost_memory_region r[2];

	/* As QEMU's memory-backend-memfd: sealed, its fd kept open. */
	assert_int_equal(ftruncate(mfd, 0x4000), 0);
	assert_int_equal(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	shared = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(shared != MAP_FAILED);
	r[0] = guest_region(e, 0, 0x4000);                       /* private */
	r[1] = (struct usv_vhost_memory_region){ .guest_phys_addr = 0x4000,
		.memory_size = 0x4000, .userspace_addr = (uintptr_t)shared }; /* shared */
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_table(e, r, 2), 0);
	assert_int_equal(e->dev->mem->regions[0].strategy, USV_MEM_PROCMEM);
	/* Mapped through the owner's own fd: no privilege needed. */
	assert_int_equal(e->dev->mem->regions[1].strategy, USV_MEM_MMAP);
	assert_true(e->dev->mem->regions[1].writable);
	e->guest[0x3fff] = 0x11;
	shared[0] = 0x22;
	assert_int_equal(usv_gpa_read(e->dev->mem, 0x3fff, &v, 1), 0);
	assert_int_equal(v, 0x11);
	assert_int_equal(usv_gpa_read(e->dev->mem, 0x4000, &v, 1), 0);
	assert_int_equal(v, 0x22);
	assert_int_equal(usv_gpa_write(e->dev->mem, 0x4001, &(uint8_t){ 0x33 }, 1), 0);
	assert_int_equal(shared[1], 0x33);
	assert_int_equal(env_mem_table(e, NULL, 0), 0); /* drop the mapping */
	munmap(shared, 0x4000);
}

static void mem_table_failure_keeps_the_previous_table(void **state)
{
	struct env *e = *state;
	struct usv_vhost_memory_region bad = guest_region(e, 1, 0x1000);
	struct usv_guestmem *before;

	bad.memory_size = 0; /* at gpa 0x1000: EFAULT */
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	before = e->dev->mem;
	assert_int_equal(env_mem_table(e, &bad, 1), -EFAULT);
	assert_int_equal(mem_hdr_at(e, 0, 1, 1), -EOPNOTSUPP);
	assert_int_equal(mem_hdr_at(e, 0, 65, 0), -E2BIG);
	assert_ptr_equal(e->dev->mem, before);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
}

static void mem_table_user_addresses_are_checked_only_for_running_rings(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	struct usv_vhost_memory_region far = {
		.guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = T,
	};
	struct usv_guestmem *before;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_table(e, &far, 1), 0); /* no ring runs */
	assert_int_equal(env_mem_guest(e), 0);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	before = e->dev->mem;
	fake_dp_clear(&e->dp);
	assert_int_equal(env_mem_table(e, &far, 1), -EFAULT);
	assert_ptr_equal(e->dev->mem, before);
	assert_int_equal(e->dp.n, 0);
	far.userspace_addr = T - 0x10000; /* ends exactly at the top */
	assert_int_equal(env_mem_table(e, &far, 1), 0);
}

static void mem_table_waits_for_every_region_before_changing_anything(void **state)
{
	struct env *e = *state;
	struct usv_vhost_memory_region r[2] = { guest_region(e, 0, 0x1000),
						guest_region(e, 1, 0x1000) };

	assert_int_equal(env_set_owner(e), 0);
	e->u.reachable = 8; /* the fixed part only, as a CUSE first round */
	assert_int_equal(env_mem_table(e, r, 2), ERETRY);
	assert_null(e->dev->mem);
	e->u.reachable = 8 + sizeof(r[0]);
	assert_int_equal(env_mem_table(e, r, 2), ERETRY);
	assert_null(e->dev->mem);
	e->u.reachable = UFAKE_SIZE;
	assert_int_equal(env_mem_table(e, r, 2), 0);
	assert_int_equal(e->dev->mem->nregions, 2);
}

static void mem_table_with_log_all_needs_the_bitmap_for_running_rings(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	struct usv_vhost_memory_region far = guest_region(e, 0, ENV_GUEST_SIZE);

	/* 64 KiB of guest at gpa 0: bitmap bytes 0 and 1. */
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, LOG_ALL), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_LOG_BASE, T - 2), 0);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	/* The same memory at gpa 1 MiB needs bytes 32 and 33: out of reach. */
	far.guest_phys_addr = 0x100000;
	assert_int_equal(env_mem_table(e, &far, 1), -EFAULT);
	assert_int_equal(e->dev->mem->regions[0].gpa, 0);
	/* Without LOG_ALL the bitmap is not needed. */
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, 0), 0);
	assert_int_equal(env_mem_table(e, &far, 1), 0);
}

/* The default profile with usvhostd --max-mem-regions=256: the limit is the
 * profile's, which the daemon copies and sets. */
#define NMAX 256

static struct usv_profile with_nmax;

static int env_setup_nmax(void **state)
{
	with_nmax = *usv_profile_default();
	with_nmax.max_mem_regions = NMAX;
	return env_setup_profile(state, &with_nmax);
}

/* n regions as QEMU's table after n - 1 DIMMs: the guest at gpa 0 (it holds
 * the rings), then 256-byte views of it above, one per DIMM. */
static void nmax_regions(struct env *e, struct usv_vhost_memory_region *r, unsigned n)
{
	r[0] = guest_region(e, 0, ENV_GUEST_SIZE);
	for (unsigned i = 1; i < n; i++)
		r[i] = (struct usv_vhost_memory_region){
			.guest_phys_addr = ENV_GUEST_SIZE + (i - 1) * 256ULL,
			.memory_size = 256,
			.userspace_addr = (uintptr_t)e->guest + (i - 1) % 256 * 256,
		};
}

static void mem_table_limit_is_the_daemons(void **state)
{
	struct env *e = *state;
	static struct usv_vhost_memory_region r[NMAX + 1];

	assert_int_equal(env_set_owner(e), 0);
	nmax_regions(e, r, NMAX + 1);
	assert_int_equal(env_mem_table(e, r, NMAX), 0);
	assert_int_equal(e->dev->mem->nregions, NMAX);
	/* One more is E2BIG, before the regions are read, the table kept. */
	assert_int_equal(env_mem_table(e, r, NMAX + 1), -E2BIG);
	assert_int_equal(mem_hdr_at(e, UFAKE_SIZE - 8, NMAX + 1, 0), -E2BIG);
	assert_int_equal(mem_hdr_at(e, UFAKE_SIZE - 8, NMAX, 0), -EFAULT);
	assert_int_equal(e->dev->mem->nregions, NMAX);
	/* 64 is no limit of its own here. */
	assert_int_equal(env_mem_table(e, r, 65), 0);
	assert_int_equal(e->dev->mem->nregions, 65);
}

static void mem_table_grows_under_running_rings(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	static struct usv_vhost_memory_region r[NMAX + 1];
	const unsigned steps[] = { 2, 3, 65, NMAX };
	struct usv_guestmem *before;

	/* As QEMU adding DIMMs: each a region more, sent while TX and RX run. */
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_start_ring(e, 1, backend), 0);
	nmax_regions(e, r, NMAX + 1);
	for (unsigned s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		fake_dp_clear(&e->dp);
		check_ret(env_mem_table(e, r, steps[s]), 0, "%u regions", steps[s]);
		assert_int_equal(e->dev->mem->nregions, steps[s]);
		/* Both rings were handed the new table before the answer. */
		assert_int_equal(dp_count(e, DP_UPDATE, 0, USV_RING_MEM), 1);
		assert_int_equal(dp_count(e, DP_UPDATE, 1, USV_RING_MEM), 1);
		assert_int_equal(dp_last(e)->mem_nregions, steps[s]);
		assert_int_equal(dp_count(e, DP_STOP, 0, 0) + dp_count(e, DP_STOP, 1, 0), 0);
		assert_true(usv_vq_running(&e->dev->vqs[0]) && usv_vq_running(&e->dev->vqs[1]));
	}
	/* Past the limit: E2BIG, the rings keep the table they run on. */
	before = e->dev->mem;
	fake_dp_clear(&e->dp);
	assert_int_equal(env_mem_table(e, r, NMAX + 1), -E2BIG);
	assert_ptr_equal(e->dev->mem, before);
	assert_int_equal(e->dp.n, 0);
	assert_true(usv_vq_running(&e->dev->vqs[0]) && usv_vq_running(&e->dev->vqs[1]));
	/* And it shrinks again (a DIMM unplugged). */
	assert_int_equal(env_mem_table(e, r, 1), 0);
	assert_int_equal(dp_last(e)->mem_nregions, 1);
}

int main(void)
{
#define E(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		E(mem_table_padding_is_eopnotsupp_before_e2big),
		E(mem_table_over_64_regions_is_e2big_before_reading_them),
		E(mem_table_of_64_regions_is_accepted),
		E(mem_table_with_a_short_region_array_is_efault),
		E(mem_table_with_a_zero_size_region_at_nonzero_gpa_is_efault),
		E(mem_table_with_a_wrapping_region_is_efault),
		E(mem_table_zero_size_at_gpa_0_is_the_whole_space),
		E(mem_table_regions_are_bound_to_the_owners_memory),
		E(mem_table_failure_keeps_the_previous_table),
		E(mem_table_user_addresses_are_checked_only_for_running_rings),
		E(mem_table_waits_for_every_region_before_changing_anything),
		E(mem_table_with_log_all_needs_the_bitmap_for_running_rings),
		cmocka_unit_test_setup_teardown(mem_table_limit_is_the_daemons,
						env_setup_nmax, env_teardown),
		cmocka_unit_test_setup_teardown(mem_table_grows_under_running_rings,
						env_setup_nmax, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
