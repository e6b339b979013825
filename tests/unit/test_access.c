/* SPDX-License-Identifier: MIT */
/*
 * The access_ok() family of drivers/vhost/vhost.c as the core implements it:
 * x86-64 access_ok() (asm-generic form: size <= TASK_SIZE_MAX and
 * addr <= TASK_SIZE_MAX - size), log_access_ok() and the ring checks built
 * on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/procmaps.h"
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

/* ---- what an fd is, without asking its filesystem ---------------------- */

/* In this process: stat-family calls raise SIGSYS from now on. */
static int forbid_stat(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fstat, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_stat, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_lstat, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_newfstatat, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void fd_classify_makes_no_stat_call(void **state)
{
	const char *pre = getenv("LD_PRELOAD");
	int efd = eventfd(0, EFD_CLOEXEC);
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int mfd = memfd_create("usv-unit-kind", MFD_CLOEXEC);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int p[2], status;
	pid_t pid;

	if (pre && strstr(pre, "valgrind"))
		SKIP_BECAUSE("seccomp under valgrind traps valgrind's own calls");
	assert_true(efd >= 0 && sock >= 0 && mfd >= 0 && null >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct usv_fd_info i[5];

		if (forbid_stat())
			_exit(3);
		/* A FUSE file whose server never answers would block a stat
		 * here; the classification must not need one. */
		usv_fd_classify(efd, &i[0]);
		usv_fd_classify(sock, &i[1]);
		usv_fd_classify(mfd, &i[2]);
		usv_fd_classify(null, &i[3]);
		usv_fd_classify(p[0], &i[4]);
		_exit(i[0].kind == USV_FD_EVENTFD && i[1].kind == USV_FD_SOCKET &&
		      i[2].kind == USV_FD_MEMFD && i[3].kind == USV_FD_OTHER &&
		      i[4].kind == USV_FD_OTHER ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("usv_fd_classify made a stat-family call (signal %d)",
			 WTERMSIG(status));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 3)
		SKIP_BECAUSE("no seccomp filter here");
	assert_int_equal(WEXITSTATUS(status), 0);
	close(efd);
	close(sock);
	close(mfd);
	close(null);
	close(p[0]);
	close(p[1]);
}

static void fd_peek_tells_kinds_apart_before_any_import(void **state)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int p[2], fds = count_open_fds();
	char link[128];

	assert_true(efd >= 0 && sock >= 0 && null >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds = count_open_fds();
	assert_int_equal(usv_fd_peek(getpid(), efd, link, sizeof(link)), USV_PEEK_EVENTFD);
	assert_int_equal(usv_fd_peek(getpid(), sock, link, sizeof(link)), USV_PEEK_SOCKET);
	assert_int_equal(usv_fd_peek(getpid(), null, link, sizeof(link)), USV_PEEK_PATH);
	assert_string_equal(link, "/dev/null");
	assert_int_equal(usv_fd_peek(getpid(), p[0], link, sizeof(link)), USV_PEEK_OTHER);
	assert_int_equal(usv_fd_peek(getpid(), closed_fd_number(), link, sizeof(link)),
			 USV_PEEK_GONE);
	assert_int_equal(usv_fd_peek(getpid(), -2, link, sizeof(link)), USV_PEEK_GONE);
	assert_int_equal(count_open_fds(), fds); /* nothing was imported */
	assert_false(usv_fd_on_fuse(getpid(), null));
	close(efd);
	close(sock);
	close(null);
	close(p[0]);
	close(p[1]);
}

/* ---- the owner's maps ------------------------------------------------------- */

/* Where the path starts in our maps line for address p. */
static size_t maps_path_column(const void *p)
{
	char *line = NULL;
	size_t cap = 0, col = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0)
		if (strtoull(line, NULL, 16) == (uintptr_t)p && strchr(line, '/'))
			col = (size_t)(strchr(line, '/') - line);
	free(line);
	fclose(f);
	assert_true(col > 0);
	return col;
}

static void maps_lines_longer_than_any_buffer_are_one_mapping(void **state)
{
	static const char fake[] = "10000-7fff00000000 rw-s 00000000 00:01 1 fake";
	char dir[1024] = "/tmp/usv-unit-XXXXXX", path[1024], name[256];
	struct usv_vma *v = NULL;
	size_t len, filler;
	uint8_t *p;
	int fd, n, i;

	assert_non_null(mkdtemp(dir));
	len = strlen(dir);
	for (int k = 0; k < 2; k++) {
		memset(name, 'a', 199);
		name[199] = '\0';
		len += (size_t)snprintf(dir + len, sizeof(dir) - len, "/%s", name);
		assert_int_equal(mkdir(dir, 0700), 0);
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	/* Renamed so that its maps line holds, from byte 511 on (where a
	 * 512-byte fgets() buffer cuts it), what reads as a writable shared
	 * mapping of nearly all of user space. */
	filler = 511 - (maps_path_column(p) + strlen(dir) + 1);
	assert_true(filler < 200);
	memset(name, 'b', filler);
	snprintf(name + filler, sizeof(name) - filler, "%s", fake);
	{
		char renamed[1024];

		snprintf(renamed, sizeof(renamed), "%s/%s", dir, name);
		assert_int_equal(rename(path, renamed), 0);
		snprintf(path, sizeof(path), "%s", renamed);
	}

	n = usv_maps_read(getpid(), &v);
	assert_true(n > 0);
	i = usv_maps_find(v, n, (uintptr_t)p);
	assert_true(i >= 0);
	assert_true(v[i].read && !v[i].write && v[i].shared);
	assert_true(v[i].inode != 0);
	for (int j = 0; j < n; j++)
		assert_false(v[j].start == 0x10000 && v[j].end == 0x7fff00000000ULL);
	assert_false(usv_maps_cover(v, n, (uintptr_t)p, 4096, true));
	assert_true(usv_maps_cover(v, n, (uintptr_t)p, 4096, false));
	free(v);

	munmap(p, 4096);
	close(fd);
	assert_int_equal(unlink(path), 0);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(rmdir(dir), 0);
		*strrchr(dir, '/') = '\0';
	}
}

static void maps_cover_needs_adjacent_mappings_with_the_rights(void **state)
{
	const struct usv_vma v[] = {
		{ .start = 0x1000, .end = 0x3000, .read = true, .write = true },
		{ .start = 0x3000, .end = 0x4000, .read = true },
		{ .start = 0x5000, .end = 0x6000, .read = true, .write = true },
		{ .start = 0x6000, .end = 0x7000 }, /* PROT_NONE */
	};
	const int n = 4;

	assert_true(usv_maps_cover(v, n, 0x1000, 0x2000, true));
	assert_true(usv_maps_cover(v, n, 0x2fff, 2, false));   /* rw then r */
	assert_false(usv_maps_cover(v, n, 0x2fff, 2, true));   /* r is not w */
	assert_false(usv_maps_cover(v, n, 0x3fff, 2, false));  /* a hole after */
	assert_false(usv_maps_cover(v, n, 0x4000, 1, false));  /* in the hole */
	assert_false(usv_maps_cover(v, n, 0x5fff, 2, false));  /* then PROT_NONE */
	assert_false(usv_maps_cover(v, n, 0x6000, 1, false));
	assert_false(usv_maps_cover(v, n, 0x1000, 0x7000, false));
	assert_false(usv_maps_cover(v, n, UINT64_MAX - 1, 4, false)); /* wraps */
	assert_true(usv_maps_cover(v, n, 0x9000, 0, true));    /* nothing */
	assert_false(usv_maps_cover(v, n, 0x6fff, 2, false));  /* past the last */
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
		cmocka_unit_test(fd_classify_makes_no_stat_call),
		cmocka_unit_test(fd_peek_tells_kinds_apart_before_any_import),
		cmocka_unit_test(maps_lines_longer_than_any_buffer_are_one_mapping),
		cmocka_unit_test(maps_cover_needs_adjacent_mappings_with_the_rights),
	};

	unit_log_setup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
