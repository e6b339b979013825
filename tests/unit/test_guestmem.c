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
#include <sys/stat.h>
#include <unistd.h>

#include "core/guestmem.h"
#include "usvhost/vringh.h"
#include "unit.h"

#define PAGE 4096

struct gm {
	struct usv_owner owner; /* this process, pinned as SET_OWNER pins */
	int fds_at_start;
	int keep[4];            /* fds of shared RAM the owner holds */
	unsigned nkeep;
	struct usv_guestmem *m;
};

static int gm_setup(void **state)
{
	struct gm *g = calloc(1, sizeof(*g));

	if (!g)
		return -1;
	unit_log_setup();
	g->fds_at_start = count_open_fds();
	*state = g;
	return usv_owner_pin(getpid(), &g->owner) ? -1 : 0;
}

static int gm_teardown(void **state)
{
	struct gm *g = *state;
	int ret = 0;

	usv_guestmem_free(g->m);
	usv_owner_release(&g->owner);
	for (unsigned i = 0; i < g->nkeep; i++)
		close(g->keep[i]);
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
		assert_int_equal(usv_guestmem_bind(g->m, &g->owner), 0);
	return g->m;
}

static void drop_table(struct gm *g)
{
	usv_guestmem_free(g->m);
	g->m = NULL;
}

/* What QEMU's memory-backend-memfd makes by default: a memfd sealed against
 * growing and shrinking, mapped shared, its fd kept open by the owner. */
#define SEALED (F_SEAL_SHRINK | F_SEAL_GROW)

static int make_memfd(struct gm *g, size_t size, int seals)
{
	int fd = memfd_create("usv-unit-guest", MFD_CLOEXEC | (seals ? MFD_ALLOW_SEALING : 0));

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	assert_true(g->nkeep < 4);
	g->keep[g->nkeep++] = fd;
	return fd;
}

static uint8_t *shared_memfd_sealed(struct gm *g, size_t size, int seals)
{
	int fd = make_memfd(g, size, seals);
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static uint8_t *shared_memfd(struct gm *g, size_t size)
{
	return shared_memfd_sealed(g, size, SEALED);
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
	assert_string_equal(g->m->regions[0].why, "private memory");
	free(a);
}

static void sealed_shared_memfd_is_mapped_through_the_owners_fd(void **state)
{
	struct gm *g = *state;
	const size_t size = 4 * PAGE;
	uint8_t *p = shared_memfd(g, size);
	struct usv_vhost_memory_region r = reg(0x100000, size, p);
	const struct usv_mem_region *mr;
	int fds = count_open_fds();
	uint8_t v = 0;

	table(g, &r, 1, true);
	mr = &g->m->regions[0];
	assert_int_equal(mr->strategy, USV_MEM_MMAP);
	assert_string_equal(usv_mem_strategy_name(USV_MEM_MMAP), "mmap");
	assert_true(mr->writable);
	assert_non_null(mr->local);
	assert_ptr_not_equal(mr->local, p); /* a mapping of our own */
	/* The imported fd is kept, for a hand-over to map it the same way,
	 * and closed with the table. */
	assert_int_equal(count_open_fds(), fds + 1);
	assert_true(mr->fd >= 0);
	assert_int_equal(mr->map_off, 0);
	assert_true(strncmp(mr->backing, "/memfd:usv-unit-guest", 21) == 0);
	/* Writes land in the owner's memory and reads see it. */
	assert_int_equal(usv_gpa_write(g->m, 0x100000 + size - 1, &(uint8_t){ 0x5a }, 1), 0);
	assert_int_equal(p[size - 1], 0x5a);
	p[7] = 0xc3;
	assert_int_equal(usv_gpa_read(g->m, 0x100007, &v, 1), 0);
	assert_int_equal(v, 0xc3);
	drop_table(g);
	assert_int_equal(count_open_fds(), fds);
	munmap(p, size);
}

static void region_inside_a_larger_shared_mapping_is_mapped_at_its_offset(void **state)
{
	struct gm *g = *state;
	const size_t size = 8 * PAGE;
	uint8_t *p = shared_memfd(g, size);
	/* The middle of the mapping, not page aligned at its end. */
	struct usv_vhost_memory_region r = reg(0, 3 * PAGE + 100, p + 2 * PAGE);
	uint8_t v;

	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	assert_ptr_equal(usv_uva_local(g->m, (uintptr_t)(p + 2 * PAGE), 1),
			 g->m->regions[0].local);
	p[2 * PAGE + 3 * PAGE + 99] = 0x77;
	assert_int_equal(usv_gpa_read(g->m, 3 * PAGE + 99, &v, 1), 0);
	assert_int_equal(v, 0x77);
	assert_int_equal(usv_gpa_read(g->m, 3 * PAGE + 100, &v, 1), -EFAULT);
	drop_table(g);
	munmap(p, size);
}

static void a_read_only_part_of_the_owners_mapping_is_never_written(void **state)
{
	struct gm *g = *state;
	const size_t size = 4 * PAGE;
	uint8_t *p = shared_memfd(g, size);
	struct usv_vhost_memory_region r = reg(0, size, p);
	uint8_t v = 0;

	/* Two VMAs of one file at consecutive offsets, the second read-only:
	 * mapped, but read-only here (maps only ever narrows). */
	assert_int_equal(mprotect(p + 2 * PAGE, 2 * PAGE, PROT_READ), 0);
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	assert_false(g->m->regions[0].writable);
	assert_null(usv_uva_local(g->m, (uintptr_t)p, 1)); /* no pointer to write */
	/* Writes go through the owner: its writable part takes them, its
	 * read-only shared part refuses them, as copy_to_user() would. */
	assert_int_equal(usv_gpa_write(g->m, PAGE, &(uint8_t){ 8 }, 1), 0);
	assert_int_equal(p[PAGE], 8);
	assert_int_equal(usv_gpa_write(g->m, 3 * PAGE, &(uint8_t){ 9 }, 1), -EFAULT);
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)p + 3 * PAGE, &(uint8_t){ 9 }, 1),
			 -EFAULT);
	assert_int_equal(p[3 * PAGE], 0);
	v = 1;
	assert_int_equal(usv_gpa_read(g->m, 3 * PAGE, &v, 1), 0);
	assert_int_equal(v, 0);
	drop_table(g);
	munmap(p, size);
}

static void a_read_only_shared_file_is_never_written(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	int fd = make_memfd(g, size, SEALED);
	char path[64];
	uint8_t *p, v = 0x11;
	int ro;

	/* The owner holds the file read-only only and maps it read-only. */
	assert_int_equal(pwrite(fd, &v, 1, 5), 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	close(fd);
	g->keep[g->nkeep - 1] = ro;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 0);
	assert_true(p != MAP_FAILED);
	struct usv_vhost_memory_region r = reg(0, size, p);
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	assert_false(g->m->regions[0].writable);
	assert_int_equal(usv_gpa_read(g->m, 5, &v, 1), 0);
	assert_int_equal(v, 0x11);
	assert_int_equal(usv_gpa_write(g->m, 5, &(uint8_t){ 0x66 }, 1), -EFAULT);
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)p + 5, &(uint8_t){ 0x66 }, 1), -EFAULT);
	assert_int_equal(pread(ro, &v, 1, 5), 1);
	assert_int_equal(v, 0x11);
	drop_table(g);
	munmap(p, size);
}

/* The confused deputy of old: a file the caller may only read, mapped
 * shared read-only and declared guest RAM, must never be written. */
static void a_file_the_owner_may_only_read_is_never_written(void **state)
{
	struct gm *g = *state;
	const char *dirs[] = { "/dev/shm", "/tmp" };

	for (unsigned k = 0; k < 2; k++) {
		char path[64];
		uint8_t *p, v = 0x11;
		int fd;

		snprintf(path, sizeof(path), "%s/usv-unit-XXXXXX", dirs[k]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		assert_int_equal(ftruncate(fd, PAGE), 0);
		assert_int_equal(pwrite(fd, &v, 1, 5), 1);
		close(fd);
		assert_int_equal(chmod(path, 0444), 0);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		assert_true(p != MAP_FAILED);
		struct usv_vhost_memory_region r = reg(0, PAGE, p);
		table(g, &r, 1, true);
		print_message("%s: strategy %s (%s)\n", dirs[k],
			      usv_mem_strategy_name(g->m->regions[0].strategy),
			      g->m->regions[0].why);
		assert_false(g->m->regions[0].strategy == USV_MEM_MMAP &&
			     g->m->regions[0].writable);
		assert_int_equal(usv_gpa_read(g->m, 5, &v, 1), 0);
		assert_int_equal(v, 0x11);
		assert_int_equal(usv_gpa_write(g->m, 5, &(uint8_t){ 0x66 }, 1), -EFAULT);
		assert_int_equal(usv_uva_write(g->m, (uintptr_t)p + 5, &(uint8_t){ 0x66 }, 1),
				 -EFAULT);
		assert_int_equal(pread(fd, &v, 1, 5), 1);
		assert_int_equal(v, 0x11);
		drop_table(g);
		munmap(p, PAGE);
		close(fd);
		unlink(path);
	}
}

static void an_fd_opened_read_only_gives_a_read_only_mapping(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	uint8_t *p = shared_memfd(g, size);
	char path[64];
	int ro;

	/* The owner's mapping is writable, but the only fd it still holds
	 * for the file is read-only: ours may not be writable. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", g->keep[g->nkeep - 1]);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	close(g->keep[g->nkeep - 1]);
	g->keep[g->nkeep - 1] = ro;
	struct usv_vhost_memory_region r = reg(0, size, p);
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	assert_false(g->m->regions[0].writable);
	/* The owner may write its own mapping: through its memory, we may too. */
	assert_int_equal(usv_gpa_write(g->m, 9, &(uint8_t){ 0x21 }, 1), 0);
	assert_int_equal(p[9], 0x21);
	drop_table(g);
	munmap(p, size);
}

static void an_unsealed_memfd_stays_on_procmem(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	uint8_t *a = shared_memfd_sealed(g, size, 0);             /* no sealing */
	uint8_t *b = shared_memfd_sealed(g, size, F_SEAL_GROW);   /* not SHRINK */
	struct usv_vhost_memory_region r[2] = { reg(0, size, a), reg(size, size, b) };
	uint8_t v = 0;

	table(g, r, 2, true);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(g->m->regions[i].strategy, USV_MEM_PROCMEM);
		assert_null(g->m->regions[i].local);
		assert_string_equal(g->m->regions[i].why, "memfd not sealed against shrinking");
	}
	a[3] = 0x42;
	assert_int_equal(usv_gpa_read(g->m, 3, &v, 1), 0);
	assert_int_equal(v, 0x42);
	drop_table(g);
	munmap(a, size);
	munmap(b, size);
}

static void a_sealed_memfd_cannot_be_cut_under_our_mapping(void **state)
{
	struct gm *g = *state;
	const size_t size = 4 * PAGE;
	uint8_t *p = shared_memfd(g, size), v = 0;
	int fd = g->keep[g->nkeep - 1];
	struct usv_vhost_memory_region r = reg(0, size, p);

	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	/* The caller's attack: shrink the file under the daemon's mapping
	 * (its next access would be SIGBUS). The seal refuses it. */
	assert_int_equal(ftruncate(fd, PAGE), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, 0), 0);
	assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
	/* The last byte is still there for us. */
	p[size - 1] = 0x3c;
	assert_int_equal(usv_gpa_read(g->m, size - 1, &v, 1), 0);
	assert_int_equal(v, 0x3c);
	drop_table(g);
	munmap(p, size);
}

static void a_region_past_the_end_of_its_file_stays_on_procmem(void **state)
{
	struct gm *g = *state;
	int fd = make_memfd(g, PAGE, SEALED);
	struct usv_vhost_memory_region r;
	uint8_t *p;

	/* Two pages mapped of a one-page file: the second is beyond its end
	 * (an access there is SIGBUS). */
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	r = reg(0, 2 * PAGE, p);
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_PROCMEM);
	assert_string_equal(g->m->regions[0].why, "beyond the end of its file");
	drop_table(g);
	munmap(p, 2 * PAGE);
}

static void shared_ram_whose_fd_the_owner_closed_stays_on_procmem(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	uint8_t *p = shared_memfd(g, size), v = 0;
	struct usv_vhost_memory_region r = reg(0, size, p);

	/* The daemon maps only through an fd the owner holds itself. */
	close(g->keep[--g->nkeep]);
	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_PROCMEM);
	assert_string_equal(g->m->regions[0].why, "the owner holds no fd for that file");
	p[1] = 0x5f;
	assert_int_equal(usv_gpa_read(g->m, 1, &v, 1), 0);
	assert_int_equal(v, 0x5f);
	drop_table(g);
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
	/* Made read-only: a write through the owner's memory lands in the
	 * owner's own private copy (FOLL_FORCE), never in the file. */
	assert_int_equal(mprotect(p, 2 * PAGE, PROT_READ), 0);
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)p + 11, &(uint8_t){ 0x67 }, 1), 0);
	assert_int_equal(p[11], 0x67);
	assert_int_equal(pread(fd, &v, 1, 11), 1);
	assert_int_equal(v, 0);
	drop_table(g);
	munmap(p, 2 * PAGE);
	close(fd);
}

static void region_larger_than_its_shared_mapping_falls_back_to_procmem(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	uint8_t *p = shared_memfd(g, size);
	struct usv_vhost_memory_region r = reg(0, size + PAGE, p);
	uint8_t v;

	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_PROCMEM);
	p[5] = 0x42;
	assert_int_equal(usv_gpa_read(g->m, 5, &v, 1), 0);
	assert_int_equal(v, 0x42);
	drop_table(g);
	munmap(p, size);
}

static void copies_cross_regions_of_different_strategies(void **state)
{
	struct gm *g = *state;
	uint8_t *shared = shared_memfd(g, PAGE), *priv = calloc(1, PAGE);
	struct usv_vhost_memory_region r[2] = { reg(0, PAGE, shared), reg(PAGE, PAGE, priv) };
	uint8_t in[16], out[16];

	assert_non_null(priv);
	memset(in, 0xe1, sizeof(in));
	table(g, r, 2, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);
	assert_int_equal(g->m->regions[1].strategy, USV_MEM_PROCMEM);
	assert_int_equal(usv_gpa_write(g->m, PAGE - 8, in, sizeof(in)), 0);
	assert_memory_equal(shared + PAGE - 8, in, 8);
	assert_memory_equal(priv, in + 8, 8);
	assert_int_equal(usv_gpa_read(g->m, PAGE - 8, out, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(out));
	drop_table(g);
	munmap(shared, PAGE);
	free(priv);
}

static void the_table_borrows_the_owners_memory_fd(void **state)
{
	struct gm *g = *state;
	uint8_t *a = calloc(1, PAGE);
	struct usv_vhost_memory_region r = reg(0, PAGE, a);
	struct usv_owner none = { .pidfd = -1, .memfd = -1 };
	int before = count_open_fds();
	uint8_t v = 0;

	assert_non_null(a);
	table(g, &r, 1, true);
	assert_int_equal(g->m->memfd, g->owner.memfd);
	/* One /proc/<pid>/mem per owner: binding opens none of its own. */
	assert_int_equal(count_open_fds(), before);
	assert_int_equal(usv_guestmem_bind(g->m, &g->owner), 0);
	assert_int_equal(count_open_fds(), before);
	a[1] = 3;
	assert_int_equal(usv_gpa_read(g->m, 1, &v, 1), 0);
	assert_int_equal(v, 3);
	assert_int_equal(usv_guestmem_bind(g->m, &none), -EBADF);
	/* Freeing the table leaves the owner's fd open. */
	drop_table(g);
	assert_true(fd_is_open(g->owner.memfd));
	free(a);
}

/* ---- an owner that execs or exits ------------------------------------------ */

static void owner_gone(void **state, char what)
{
	struct gm *g = *state;
	struct usv_owner o;
	struct unit_child c;
	struct usv_vhost_memory_region r;
	uint8_t v = 0;

	child_start(&c);
	assert_int_equal(usv_owner_pin(c.pid, &o), 0);
	assert_true(usv_owner_alive(&o));
	r = reg(0, PAGE, (void *)(uintptr_t)c.addr);
	assert_int_equal(usv_guestmem_new(&r, 1, &g->m), 0);
	assert_int_equal(usv_guestmem_bind(g->m, &o), 0);
	assert_int_equal(usv_gpa_read(g->m, 0, &v, 1), 0);
	assert_int_equal(v, 0xab);
	assert_int_equal(usv_gpa_write(g->m, 1, &(uint8_t){ 0xcd }, 1), 0);

	child_go(&c, what);
	/* The same process (exec) or none (exit): either way not the owner
	 * any more, and its old address space is never reached again; the
	 * new image is never touched. */
	assert_false(usv_owner_alive(&o));
	v = 0;
	assert_int_equal(usv_gpa_read(g->m, 0, &v, 1), -EFAULT);
	assert_int_equal(usv_gpa_write(g->m, 0, &v, 1), -EFAULT);
	assert_int_equal(usv_uva_read(g->m, c.addr, &v, 1), -EFAULT);
	assert_int_equal(usv_uva_write(g->m, c.addr, &v, 1), -EFAULT);
	drop_table(g);
	usv_owner_release(&o);
	child_end(&c);
}

static void an_owner_that_execs_is_never_reached_again(void **state)
{
	owner_gone(state, 'e');
}

static void an_owner_that_exits_is_never_reached_again(void **state)
{
	owner_gone(state, 'x');
}

/* ---- access by owner virtual address ------------------------------------ */

static void uva_local_covers_exactly_the_mapped_region(void **state)
{
	struct gm *g = *state;
	const size_t size = 2 * PAGE;
	uint8_t *p = shared_memfd(g, size), *l;
	struct usv_vhost_memory_region r = reg(0x8000, size, p);
	const uint64_t U = (uintptr_t)p;

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
	drop_table(g);
	munmap(p, size);
}

static void uva_access_uses_the_mapping_inside_and_the_owner_outside(void **state)
{
	struct gm *g = *state;
	const size_t size = PAGE;
	uint8_t *p = shared_memfd(g, size);
	struct usv_vhost_memory_region r = reg(0, size, p);
	uint64_t outside = 0x1122334455667788ULL, v = 0;

	table(g, &r, 1, true);
	assert_int_equal(g->m->regions[0].strategy, USV_MEM_MMAP);

	/* Inside the region: through our mapping. */
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)p + 8, &outside, sizeof(outside)), 0);
	assert_memory_equal(p + 8, &outside, sizeof(outside));
	assert_int_equal(usv_uva_read(g->m, (uintptr_t)p + 8, &v, sizeof(v)), 0);
	assert_true(v == outside);

	/* Outside any region: the owner's pinned memory. */
	v = 0;
	assert_int_equal(usv_uva_read(g->m, (uintptr_t)&outside, &v, sizeof(v)), 0);
	assert_true(v == outside);
	v = 42;
	assert_int_equal(usv_uva_write(g->m, (uintptr_t)&outside, &v, sizeof(v)), 0);
	assert_true(outside == 42);
	/* Nothing mapped, or beyond user space: EFAULT. */
	assert_int_equal(usv_uva_read(g->m, 8, &v, sizeof(v)), -EFAULT);
	assert_int_equal(usv_uva_write(g->m, 8, &v, sizeof(v)), -EFAULT);
	assert_int_equal(usv_uva_read(g->m, USV_TASK_SIZE_MAX - 4, &v, sizeof(v)), -EFAULT);
	assert_int_equal(usv_uva_read(g->m, UINT64_MAX - 3, &v, sizeof(v)), -EFAULT);
	drop_table(g);
	munmap(p, size);
}

/* ---- descriptors: translation ---------------------------------------------- */

/* A 4-entry ring at guest address 0 in a buffer, and a region at the very
 * top of the guest address space. Only addresses are computed (the
 * regions are "mapped" here, pointing at our buffers). */
static void a_buffer_wrapping_past_2_64_is_efault(void **state)
{
	struct gm *g = *state;
	uint8_t *low = calloc(1, PAGE), *top = calloc(1, PAGE);
	struct usv_vhost_memory_region r[2] = {
		reg(0, PAGE, low), reg(UINT64_MAX - (PAGE - 1), PAGE, top),
	};
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d[4] = { 0 };
	uint16_t avail[2 + 4] = { 0 };
	struct usv_seg segs[8];
	struct usv_chain c = { .seg = segs, .max_segs = 8 };
	struct usv_vringh vr;

	assert_non_null(low);
	assert_non_null(top);
	table(g, r, 2, false);
	for (unsigned i = 0; i < 2; i++) {
		g->m->regions[i].local = i ? top : low;
		g->m->regions[i].writable = true;
		g->m->regions[i].strategy = USV_MEM_MMAP;
	}
	/* desc at 0, avail at 0x100, used at 0x200. */
	d[0] = (typeof(d[0])){ .addr = UINT64_MAX - 0xf, .len = 0x10 };  /* ends at the top */
	d[1] = (typeof(d[0])){ .addr = UINT64_MAX - 0xf, .len = 0x20 };  /* wraps to 0 */
	d[2] = (typeof(d[0])){ .addr = UINT64_MAX, .len = 2,            /* wraps, in a chain */
			       .flags = USV_VRING_DESC_F_WRITE };
	d[3] = (typeof(d[0])){ .addr = 0x800, .len = 8, .flags = USV_VRING_DESC_F_NEXT, .next = 2 };
	memcpy(low, d, sizeof(d));
	avail[1] = 3;                      /* idx */
	avail[2] = 0, avail[3] = 1, avail[4] = 3;
	memcpy(low + 0x100, avail, sizeof(avail));
	memset(&vr, 0, sizeof(vr));
	usv_vringh_setup(&vr, g->m, 4, (uintptr_t)low, (uintptr_t)low + 0x100,
			 (uintptr_t)low + 0x200, 0);

	assert_int_equal(usv_vringh_pop(&vr, &c), 0);
	assert_int_equal(c.nout, 1);
	assert_ptr_equal(c.seg[0].local, top + PAGE - 0x10);
	/* translate_desc() finds no mapping for [addr, addr+len-1] when it
	 * wraps: EFAULT, and no segment at the guest's address 0. */
	assert_int_equal(usv_vringh_pop(&vr, &c), -EFAULT);
	assert_int_equal(c.nout + c.nin, 0);
	assert_non_null(strstr(vr.err, "translation failure"));
	/* The same as the second descriptor of a chain: nothing after the
	 * first descriptor's segment. (A failed pop does not consume the
	 * entry: step past it by hand.) */
	vr.last_avail_idx++;
	assert_int_equal(usv_vringh_pop(&vr, &c), -EFAULT);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 0);
	drop_table(g);
	free(low);
	free(top);
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
		G(sealed_shared_memfd_is_mapped_through_the_owners_fd),
		G(region_inside_a_larger_shared_mapping_is_mapped_at_its_offset),
		G(a_read_only_part_of_the_owners_mapping_is_never_written),
		G(a_read_only_shared_file_is_never_written),
		G(a_file_the_owner_may_only_read_is_never_written),
		G(an_fd_opened_read_only_gives_a_read_only_mapping),
		G(an_unsealed_memfd_stays_on_procmem),
		G(a_sealed_memfd_cannot_be_cut_under_our_mapping),
		G(a_region_past_the_end_of_its_file_stays_on_procmem),
		G(shared_ram_whose_fd_the_owner_closed_stays_on_procmem),
		G(private_mapping_of_a_file_stays_private),
		G(region_larger_than_its_shared_mapping_falls_back_to_procmem),
		G(copies_cross_regions_of_different_strategies),
		G(the_table_borrows_the_owners_memory_fd),
		G(an_owner_that_execs_is_never_reached_again),
		G(an_owner_that_exits_is_never_reached_again),
		G(uva_local_covers_exactly_the_mapped_region),
		G(uva_access_uses_the_mapping_inside_and_the_owner_outside),
		G(a_buffer_wrapping_past_2_64_is_efault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
