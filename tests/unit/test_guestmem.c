/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: the region table, guest-physical and owner-virtual
 * translation and its bounds, copies across regions, both strategies
 * (procmem for private memory, mmap for a shared memfd), with this process
 * as the owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/guestmem.h"
#include "unit.h"

#define PAGE 4096

struct gm {
	int procmem;  /* /proc/self/mem */
	int fds_at_start;
	struct usv_guestmem *m;
};

static int gm_setup(void **state)
{
	struct gm *g = calloc(1, sizeof(*g));

	if (!g)
		return -1;
	unit_log_setup();
	g->fds_at_start = count_open_fds();
	g->procmem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	*state = g;
	return g->procmem < 0 ? -1 : 0;
}

static int gm_teardown(void **state)
{
	struct gm *g = *state;
	int ret = 0;

	usv_guestmem_free(g->m);
	close(g->procmem);
	if (count_open_fds() != g->fds_at_start) {
		print_error("fd leak: %d before, %d after\n", g->fds_at_start,
			    count_open_fds());
		ret = -1;
	}
	free(g);
	return ret;
}

static struct usv_vhost_memory_region reg(uint64_t gpa, uint64_t size, const void *p)
{
	struct usv_vhost_memory_region r = {
		.guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)p,
	};

	return r;
}

static struct usv_guestmem *table(struct gm *g, const struct usv_vhost_memory_region *r,
				  uint32_t n, bool bind)
{
	assert_int_equal(usv_guestmem_new(r, n, &g->m), 0);
	assert_int_equal(g->m->nregions, n);
	if (bind)
		assert_int_equal(usv_guestmem_bind(g->m, getpid(), g->procmem), 0);
	return g->m;
}

/* Can this process open /proc/self/map_files for the mapping holding p
 * (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE)? Decides the strategy. */
static bool map_files_openable(const void *p)
{
	char line[512], path[96];
	uint64_t a = (uintptr_t)p, start, end;
	bool ok = false;
	FILE *f = fopen("/proc/self/maps", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &end) == 2 &&
		    a >= start && a < end) {
			int fd;

			snprintf(path, sizeof(path), "/proc/self/map_files/%" PRIx64 "-%" PRIx64,
				 start, end);
			fd = open(path, O_RDWR | O_CLOEXEC);
			ok = fd >= 0;
			if (ok)
				close(fd);
			break;
		}
	}
	fclose(f);
	return ok;
}

static uint8_t *shared_memfd(size_t size)
{
	int fd = memfd_create("usv-unit-guest", MFD_CLOEXEC);
	uint8_t *p;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(p != MAP_FAILED);
	return p;
}

/* ---- the table --------------------------------------------------------- */

static void new_accepts_an_empty_table(void **state)
{
	struct gm *g = *state;

	table(g, NULL, 0, true);
	assert_null(usv_guestmem_find(g->m, 0));
	assert_int_equal(usv_gpa_read(g->m, 0, &(char){ 0 }, 1), -EFAULT);
}

static void new_refuses_zero_size_region_at_nonzero_gpa(void **state)
{
	struct gm *g = *state;
	struct usv_vhost_memory_region r[2] = {
		reg(0, PAGE, (void *)0x10000), reg(0x1000, 0, (void *)0x20000),
	};

	assert_int_equal(usv_guestmem_new(&r[1], 1, &g->m), -EFAULT);
	assert_null(g->m);
	/* A bad region after a good one: nothing is left allocated (ASan). */
	assert_int_equal(usv_guestmem_new(r, 2, &g->m), -EFAULT);
	assert_null(g->m);
}

static void new_refuses_a_wrapping_region(void **state)
{
	struct gm *g = *state;
	struct usv_vhost_memory_region r = reg(UINT64_MAX - 0xfff, 0x2000, (void *)0x10000);

	assert_int_equal(usv_guestmem_new(&r, 1, &g->m), -EFAULT);
	r = reg(UINT64_MAX, 2, (void *)0x10000);
	assert_int_equal(usv_guestmem_new(&r, 1, &g->m), -EFAULT);
	r = reg(2, UINT64_MAX, (void *)0x10000);
	assert_int_equal(usv_guestmem_new(&r, 1, &g->m), -EFAULT);
	assert_null(g->m);
}

static void new_accepts_a_region_ending_at_the_top_of_the_space(void **state)
{
	struct gm *g = *state;
	struct usv_vhost_memory_region r[2] = {
		reg(UINT64_MAX - 0xfff, 0x1000, (void *)0x10000),
		reg(0, UINT64_MAX - 0xfff, (void *)0x100000), /* everything below */
	};
	uint64_t uva;

	table(g, r, 2, false);
	assert_int_equal(usv_gpa_to_uva(g->m, UINT64_MAX, 1, &uva), 0);
	assert_int_equal(uva, 0x10fff);
	assert_int_equal(usv_gpa_to_uva(g->m, UINT64_MAX - 0xfff, 0x1000, &uva), 0);
	assert_int_equal(uva, 0x10000);
	assert_int_equal(usv_gpa_to_uva(g->m, 0, UINT64_MAX - 0xfff, &uva), 0);
	assert_int_equal(uva, 0x100000);
	/* Adjacent regions, but one translation stays in one region. */
	assert_int_equal(usv_gpa_to_uva(g->m, 0, UINT64_MAX - 0xffe, &uva), -EFAULT);
	assert_int_equal(usv_gpa_to_uva(g->m, UINT64_MAX - 0x1000, 2, &uva), -EFAULT);
}

static void zero_size_at_gpa_0_covers_the_whole_space(void **state)
{
	struct gm *g = *state;
	struct usv_vhost_memory_region r = reg(0, 0, (void *)0x100000);
	uint64_t uva;

	table(g, &r, 1, true);
	assert_non_null(usv_guestmem_find(g->m, 0));
	assert_non_null(usv_guestmem_find(g->m, UINT64_MAX));
	assert_int_equal(usv_gpa_to_uva(g->m, 0x1234, 8, &uva), 0);
	assert_int_equal(uva, 0x101234);
	assert_int_equal(usv_gpa_to_uva(g->m, 0, UINT64_MAX, &uva), 0);
	assert_int_equal(usv_gpa_to_uva(g->m, 1, UINT64_MAX, &uva), 0);
	assert_int_equal(usv_gpa_to_uva(g->m, 0, 0, &uva), -EFAULT); /* len 0 */
	/* Nothing can map the whole space: it stays on procmem. */
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_PROCMEM);
	assert_null(usv_uva_local(g->m, 0x100000, 1));
}

static void find_returns_the_region_holding_a_gpa(void **state)
{
	struct gm *g = *state;
	struct usv_vhost_memory_region r[3] = {
		reg(0x100000, 0x1000, (void *)0x10000),
		reg(0, 0x1000, (void *)0x20000),
		reg(0x1000, 0x1000, (void *)0x30000),
	};

	table(g, r, 3, false);
	assert_ptr_equal(usv_guestmem_find(g->m, 0), &g->m->regions[1]);
	assert_ptr_equal(usv_guestmem_find(g->m, 0xfff), &g->m->regions[1]);
	assert_ptr_equal(usv_guestmem_find(g->m, 0x1000), &g->m->regions[2]);
	assert_ptr_equal(usv_guestmem_find(g->m, 0x1fff), &g->m->regions[2]);
	assert_null(usv_guestmem_find(g->m, 0x2000));
	assert_null(usv_guestmem_find(g->m, 0xfffff));
	assert_ptr_equal(usv_guestmem_find(g->m, 0x100fff), &g->m->regions[0]);
	assert_null(usv_guestmem_find(g->m, 0x101000));
	assert_null(usv_guestmem_find(NULL, 0));
}

static void gpa_to_uva_stays_inside_one_region(void **state)
{
	struct gm *g = *state;
	const uint64_t G = 0x40000, S = 0x3000, U = 0x7f0000000000ULL;
	struct usv_vhost_memory_region r = reg(G, S, (void *)(uintptr_t)U);
	uint64_t uva = 0;

	table(g, &r, 1, false);
	assert_int_equal(usv_gpa_to_uva(g->m, G, 1, &uva), 0);          /* first byte */
	assert_int_equal(uva, U);
	assert_int_equal(usv_gpa_to_uva(g->m, G + S - 1, 1, &uva), 0);  /* last byte */
	assert_int_equal(uva, U + S - 1);
	assert_int_equal(usv_gpa_to_uva(g->m, G, S, &uva), 0);          /* all of it */
	assert_int_equal(uva, U);
	assert_int_equal(usv_gpa_to_uva(g->m, G + S, 1, &uva), -EFAULT); /* one past */
	assert_int_equal(usv_gpa_to_uva(g->m, G - 1, 1, &uva), -EFAULT); /* one before */
	assert_int_equal(usv_gpa_to_uva(g->m, G + S - 1, 2, &uva), -EFAULT); /* spans end */
	assert_int_equal(usv_gpa_to_uva(g->m, G, S + 1, &uva), -EFAULT);
	assert_int_equal(usv_gpa_to_uva(g->m, G, 0, &uva), -EFAULT);    /* len 0 */
	assert_int_equal(usv_gpa_to_uva(g->m, G + 8, UINT64_MAX, &uva), -EFAULT);
	assert_int_equal(usv_gpa_to_uva(g->m, G + S - 1, UINT64_MAX, &uva), -EFAULT);
	assert_int_equal(usv_gpa_to_uva(g->m, G, UINT64_MAX - G + 1, &uva), -EFAULT);
}

/* ---- copies by guest-physical address ---------------------------------- */

static void gpa_copies_cross_adjacent_regions(void **state)
{
	struct gm *g = *state;
	uint8_t *a = malloc(PAGE), *b = malloc(PAGE);
	struct usv_vhost_memory_region r[2] = { reg(0x1000, PAGE, b), reg(0, PAGE, a) };
	uint8_t in[64], out[64];

	assert_non_null(a);
	assert_non_null(b);
	memset(a, 0xaa, PAGE);
	memset(b, 0xbb, PAGE);
	table(g, r, 2, true);
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	assert_int_equal(usv_gpa_write(g->m, 0x1000 - 32, in, sizeof(in)), 0);
	assert_memory_equal(a + PAGE - 32, in, 32);
	assert_memory_equal(b, in + 32, 32);
	assert_int_equal(a[PAGE - 33], 0xaa);
	assert_int_equal(b[32], 0xbb);
	memset(out, 0, sizeof(out));
	assert_int_equal(usv_gpa_read(g->m, 0x1000 - 32, out, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(out));
	/* Whole regions, end to end. */
	assert_int_equal(usv_gpa_read(g->m, 0, out, 1), 0);
	assert_int_equal(out[0], 0xaa);
	assert_int_equal(usv_gpa_read(g->m, 0x1fff, out, 1), 0);
	assert_int_equal(out[0], 0xbb);
	assert_int_equal(usv_gpa_read(g->m, 0x1fff, out, 2), -EFAULT);
	assert_int_equal(usv_gpa_read(g->m, 0x2000, out, 1), -EFAULT);
	assert_int_equal(usv_gpa_read(g->m, 0, out, 0), 0);
	free(a);
	free(b);
}

static void gpa_copies_fail_on_a_hole(void **state)
{
	struct gm *g = *state;
	uint8_t *a = calloc(1, PAGE), *b = calloc(1, PAGE);
	struct usv_vhost_memory_region r[2] = { reg(0, PAGE, a), reg(0x2000, PAGE, b) };
	uint8_t buf[32] = { 0 };

	assert_non_null(a);
	assert_non_null(b);
	table(g, r, 2, true);
	assert_int_equal(usv_gpa_read(g->m, 0x1000 - 16, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(usv_gpa_write(g->m, 0x1000 - 16, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(usv_gpa_read(g->m, 0x1000, buf, 1), -EFAULT);
	assert_int_equal(usv_gpa_read(g->m, 0x2000 - 1, buf, 2), -EFAULT);
	assert_int_equal(usv_gpa_read(g->m, 0x2000, buf, sizeof(buf)), 0);
	free(a);
	free(b);
}

static void gpa_copies_fault_where_the_owner_has_no_memory(void **state)
{
	struct gm *g = *state;
	/* Below mmap_min_addr: nothing is ever mapped there. (Protections
	 * would not do: /proc/<pid>/mem reads even PROT_NONE pages.) */
	struct usv_vhost_memory_region r = reg(0, PAGE, (void *)0x1000);
	uint8_t buf[8] = { 0 };

	table(g, &r, 1, true);
	assert_int_equal(usv_gpa_read(g->m, 0, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(usv_gpa_write(g->m, 0, buf, sizeof(buf)), -EFAULT);
}

static void unbound_table_cannot_reach_private_memory(void **state)
{
	struct gm *g = *state;
	uint8_t *a = calloc(1, PAGE);
	struct usv_vhost_memory_region r = reg(0, PAGE, a);
	uint8_t buf[8];

	assert_non_null(a);
	table(g, &r, 1, false);
	assert_int_equal(usv_gpa_read(g->m, 0, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(usv_uva_read(g->m, (uintptr_t)a, buf, sizeof(buf)), -EFAULT);
	free(a);
}

/* ---- strategies ---------------------------------------------------------- */

static void private_memory_uses_procmem(void **state)
{
	struct gm *g = *state;
	uint8_t *a = calloc(1, 4 * PAGE);
	struct usv_vhost_memory_region r = reg(0, 4 * PAGE, a);

	assert_non_null(a);
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_PROCMEM);
	assert_null(g->m->regions[0].local);
	assert_null(usv_uva_local(g->m, (uintptr_t)a, 1));
	assert_string_equal(usv_mem_strategy_name(USV_MEM_PROCMEM), "procmem");
	free(a);
}

static void shared_memfd_is_mapped_when_map_files_opens(void **state)
{
	struct gm *g = *state;
	const size_t size = 4 * PAGE;
	uint8_t *p = shared_memfd(size);
	struct usv_vhost_memory_region r = reg(0x100000, size, p);
	bool mappable = map_files_openable(p);
	const struct usv_mem_region *mr;
	uint8_t v = 0;

	table(g, &r, 1, true);
	mr = &g->m->regions[0];
	print_message("map_files %s: strategy %s\n", mappable ? "opens" : "refused",
		      usv_mem_strategy_name(mr->strategy));
	if (mappable) {
		assert_int_equal(mr->strategy, USV_MEM_MMAP);
		assert_non_null(mr->local);
		assert_ptr_not_equal(mr->local, p); /* a mapping of our own */
		assert_string_equal(usv_mem_strategy_name(USV_MEM_MMAP), "mmap");
	} else {
		assert_int_equal(mr->strategy, USV_MEM_PROCMEM);
		assert_null(mr->local);
	}
	/* Either way, writes land in the owner's memory and reads see it. */
	assert_int_equal(usv_gpa_write(g->m, 0x100000 + size - 1, &(uint8_t){ 0x5a }, 1), 0);
	assert_int_equal(p[size - 1], 0x5a);
	p[7] = 0xc3;
	assert_int_equal(usv_gpa_read(g->m, 0x100007, &v, 1), 0);
	assert_int_equal(v, 0xc3);
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(p, size);
}

static void region_inside_a_larger_shared_mapping_is_mapped_at_its_offset(void **state)
{
	struct gm *g = *state;
	const size_t size = 8 * PAGE;
	uint8_t *p = shared_memfd(size);
	/* The middle of the mapping, not page aligned at its end. */
	struct usv_vhost_memory_region r = reg(0, 3 * PAGE + 100, p + 2 * PAGE);
	uint8_t v;

	if (!map_files_openable(p)) {
		munmap(p, size);
		SKIP_BECAUSE("/proc/self/map_files needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE");
	}
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	assert_ptr_equal(usv_uva_local(g->m, (uintptr_t)(p + 2 * PAGE), 1),
			 g->m->regions[0].local);
	p[2 * PAGE + 3 * PAGE + 99] = 0x77;
	assert_int_equal(usv_gpa_read(g->m, 3 * PAGE + 99, &v, 1), 0);
	assert_int_equal(v, 0x77);
	assert_int_equal(usv_gpa_read(g->m, 3 * PAGE + 100, &v, 1), -EFAULT);
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(p, size);
}

static void shared_mapping_split_by_protection_is_still_mapped(void **state)
{
	struct gm *g = *state;
	const size_t size = 4 * PAGE;
	uint8_t *p = shared_memfd(size);
	struct usv_vhost_memory_region r = reg(0, size, p);

	if (!map_files_openable(p)) {
		munmap(p, size);
		SKIP_BECAUSE("/proc/self/map_files needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE");
	}
	/* Two VMAs of one file at consecutive offsets. */
	assert_int_equal(mprotect(p + 2 * PAGE, 2 * PAGE, PROT_READ), 0);
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	/* The local mapping is writable: the guest's RAM is, whatever the
	 * owner's protections. */
	assert_int_equal(usv_gpa_write(g->m, 3 * PAGE, &(uint8_t){ 9 }, 1), 0);
	assert_int_equal(p[3 * PAGE], 9);
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(p, size);
}

static void private_mapping_of_a_file_stays_private(void **state)
{
	struct gm *g = *state;
	int fd = memfd_create("usv-unit-private", MFD_CLOEXEC);
	uint8_t *p, v = 0;
	struct usv_vhost_memory_region r;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * PAGE), 0);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	assert_true(p != MAP_FAILED);
	r = reg(0, 2 * PAGE, p);
	table(g, &r, 1, true);
	/* A file, but MAP_PRIVATE: sharing the file would miss the owner's
	 * copy-on-write pages. */
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_PROCMEM);
	assert_int_equal(usv_gpa_write(g->m, 10, &(uint8_t){ 0x66 }, 1), 0);
	assert_int_equal(p[10], 0x66);
	assert_int_equal(pread(fd, &v, 1, 10), 1);
	assert_int_equal(v, 0); /* the file itself is untouched */
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(p, 2 * PAGE);
	close(fd);
}

static void region_larger_than_its_shared_mapping_falls_back_to_procmem(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	uint8_t *p = shared_memfd(size);
	struct usv_vhost_memory_region r = reg(0, size + PAGE, p);
	uint8_t v;

	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_PROCMEM);
	p[5] = 0x42;
	assert_int_equal(usv_gpa_read(g->m, 5, &v, 1), 0);
	assert_int_equal(v, 0x42);
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(p, size);
}

static void copies_cross_regions_of_different_strategies(void **state)
{
	struct gm *g = *state;
	uint8_t *shared = shared_memfd(PAGE), *priv = calloc(1, PAGE);
	struct usv_vhost_memory_region r[2] = { reg(0, PAGE, shared), reg(PAGE, PAGE, priv) };
	uint8_t in[16], out[16];

	assert_non_null(priv);
	memset(in, 0xe1, sizeof(in));
	table(g, r, 2, true);
	assert_int_equal(usv_gpa_write(g->m, PAGE - 8, in, sizeof(in)), 0);
	assert_memory_equal(shared + PAGE - 8, in, 8);
	assert_memory_equal(priv, in + 8, 8);
	assert_int_equal(usv_gpa_read(g->m, PAGE - 8, out, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(out));
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(shared, PAGE);
	free(priv);
}

static void binding_again_replaces_the_owner_memory_fd(void **state)
{
	struct gm *g = *state;
	uint8_t *a = calloc(1, PAGE);
	struct usv_vhost_memory_region r = reg(0, PAGE, a);
	int before;
	uint8_t v = 0;

	assert_non_null(a);
	table(g, &r, 1, true);
	before = count_open_fds();
	assert_int_equal(usv_guestmem_bind(g->m, getpid(), g->procmem), 0);
	assert_int_equal(count_open_fds(), before);
	a[1] = 3;
	assert_int_equal(usv_gpa_read(g->m, 1, &v, 1), 0);
	assert_int_equal(v, 3);
	assert_int_equal(usv_guestmem_bind(g->m, getpid(), -1), -EBADF);
	free(a);
}

/* ---- access by owner virtual address ------------------------------------ */

static void uva_local_covers_exactly_the_mapped_region(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	uint8_t *p = shared_memfd(size), *l;
	struct usv_vhost_memory_region r = reg(0x8000, size, p);
	const uint64_t U = (uintptr_t)p;

	if (!map_files_openable(p)) {
		munmap(p, size);
		SKIP_BECAUSE("/proc/self/map_files needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE");
	}
	table(g, &r, 1, true);
	l = g->m->regions[0].local;
	assert_non_null(l);
	assert_ptr_equal(usv_uva_local(g->m, U, 1), l);
	assert_ptr_equal(usv_uva_local(g->m, U, size), l);
	assert_ptr_equal(usv_uva_local(g->m, U + size - 1, 1), l + size - 1);
	assert_null(usv_uva_local(g->m, U + size, 1));     /* one past */
	assert_null(usv_uva_local(g->m, U - 1, 1));        /* one before */
	assert_null(usv_uva_local(g->m, U - 1, 2));        /* straddles the start */
	assert_null(usv_uva_local(g->m, U + size - 1, 2)); /* straddles the end */
	assert_null(usv_uva_local(g->m, U, size + 1));
	assert_null(usv_uva_local(g->m, U, 0));            /* len 0 */
	assert_null(usv_uva_local(g->m, U + 1, SIZE_MAX)); /* huge len */
	assert_null(usv_uva_local(g->m, U + 1, SIZE_MAX - (size_t)U));
	assert_null(usv_uva_local(NULL, U, 1));
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(p, size);
}

static void uva_access_uses_the_mapping_inside_and_the_owner_outside(void **state)
{
	struct gm *g = *state;
	const size_t size = PAGE;
	uint8_t *p = shared_memfd(size);
	uint8_t *ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct usv_vhost_memory_region r = reg(0, size, p);
	uint64_t outside = 0x1122334455667788ULL, v = 0;
	uint8_t b = 0;

	assert_true(ro != MAP_FAILED);
	ro[0] = 0x31;
	assert_int_equal(mprotect(ro, PAGE, PROT_READ), 0);
	table(g, &r, 1, true);

	/* Inside the region (mapped or not, the same bytes). */
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)p + 8, &outside, sizeof(outside)), 0);
	assert_memory_equal(p + 8, &outside, sizeof(outside));
	assert_int_equal(usv_uva_read(g->m, (uintptr_t)p + 8, &v, sizeof(v)), 0);
	assert_true(v == outside);

	/* Outside any region: the owner's memory as copy_to_user() sees it. */
	v = 0;
	assert_int_equal(usv_uva_read(g->m, (uintptr_t)&outside, &v, sizeof(v)), 0);
	assert_true(v == outside);
	v = 42;
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)&outside, &v, sizeof(v)), 0);
	assert_true(outside == 42);
	/* Page protections hold there: read-only reads, never writes. */
	assert_int_equal(usv_uva_read(g->m, (uintptr_t)ro, &b, 1), 0);
	assert_int_equal(b, 0x31);
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)ro, &b, 1), -EFAULT);
	/* Nothing mapped, or beyond user space: EFAULT. */
	assert_int_equal(usv_uva_read(g->m, 8, &v, sizeof(v)), -EFAULT);
	assert_int_equal(usv_uva_read(g->m, USV_TASK_SIZE_MAX - 4, &v, sizeof(v)), -EFAULT);
	assert_int_equal(usv_uva_read(g->m, UINT64_MAX - 3, &v, sizeof(v)), -EFAULT);
	usv_guestmem_free(g->m);
	g->m = NULL;
	munmap(p, size);
	munmap(ro, PAGE);
}

int main(void)
{
#define G(f) cmocka_unit_test_setup_teardown(f, gm_setup, gm_teardown)
	const struct CMUnitTest tests[] = {
		G(new_accepts_an_empty_table),
		G(new_refuses_zero_size_region_at_nonzero_gpa),
		G(new_refuses_a_wrapping_region),
		G(new_accepts_a_region_ending_at_the_top_of_the_space),
		G(zero_size_at_gpa_0_covers_the_whole_space),
		G(find_returns_the_region_holding_a_gpa),
		G(gpa_to_uva_stays_inside_one_region),
		G(gpa_copies_cross_adjacent_regions),
		G(gpa_copies_fail_on_a_hole),
		G(gpa_copies_fault_where_the_owner_has_no_memory),
		G(unbound_table_cannot_reach_private_memory),
		G(private_memory_uses_procmem),
		G(shared_memfd_is_mapped_when_map_files_opens),
		G(region_inside_a_larger_shared_mapping_is_mapped_at_its_offset),
		G(shared_mapping_split_by_protection_is_still_mapped),
		G(private_mapping_of_a_file_stays_private),
		G(region_larger_than_its_shared_mapping_falls_back_to_procmem),
		G(copies_cross_regions_of_different_strategies),
		G(binding_again_replaces_the_owner_memory_fd),
		G(uva_local_covers_exactly_the_mapped_region),
		G(uva_access_uses_the_mapping_inside_and_the_owner_outside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
