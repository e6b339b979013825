/* SPDX-License-Identifier: MIT */
/*
 * Attacks on the caller's memory and process: a read-only file declared as
 * guest RAM, an owner that execs with its device open, guest RAM truncated
 * (or sealed) under the daemon.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- a read-only file as guest RAM -------------------------------------- */

#define RO_SIZE (2 * MiB)
#define RO_DESC 0x10000u
#define RO_AVAIL 0x11000u
#define RO_USED 0x12000u
#define RO_BUFS 0x100000u
#define RO_NBUF 8u

/* Where a line of /proc/PID/maps shows the path (seq_pad() to column 73
 * on 64-bit), and where a reader with a 512-byte line buffer cuts it. */
#define MAPS_PATH_COL 73u
#define MAPS_CUT 511u

struct ro_args {
	const char *path;
	bool unprivileged;
	const char *decoy; /* a file whose maps line forges the file's */
	void *at;          /* with a decoy: where the file is mapped */
};

/* The file's content: a pattern, and an RX ring with 8 buffers posted in it,
 * used->flags 0xffff (so writing the device's flags at attach shows). */
static void ro_content(uint8_t *p)
{
	for (size_t i = 0; i < RO_SIZE; i++)
		p[i] = (uint8_t)(0x5c ^ (i >> 12));
	memset(p + RO_DESC, 0, 0x3000);
	for (unsigned i = 0; i < RO_NBUF; i++) {
		struct cl_vdesc d = { .addr = RO_BUFS + i * 2048u, .len = RX_BUF, .flags = CL_D_WRITE };
		uint16_t h = (uint16_t)i;

		memcpy(p + RO_DESC + i * sizeof(d), &d, sizeof(d));
		memcpy(p + RO_AVAIL + 4 + 2 * i, &h, 2);
	}
	p[RO_AVAIL + 2] = RO_NBUF; /* avail->idx */
	p[RO_USED] = p[RO_USED + 1] = 0xff;
}

/*
 * Maps the decoy below p, so that its line of /proc/self/maps comes first:
 * a path so long that the line's tail, from byte MAPS_CUT, reads as a line
 * of its own saying p's mapping is writable and shared. The mapping stays
 * (the process ends with it).
 */
static bool map_decoy(const char *decoy, uint8_t *p, const char *tag)
{
	char line[4096];
	bool seen = false;
	void *d;
	FILE *f;
	int fd = open(decoy, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		cl_setup_fail("%s: open the decoy", tag);
		return false;
	}
	d = mmap(p - 16 * MiB, 4096, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	close(fd);
	if (d == MAP_FAILED) {
		cl_setup_fail("%s: map the decoy below the file", tag);
		return false;
	}
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long start = 0;

		if (sscanf(line, "%llx-", &start) == 1 && start == (uintptr_t)d) {
			line[strcspn(line, "\n")] = '\0';
			seen = strlen(line) > MAPS_CUT;
			if (seen)
				cl_print("    %s: its maps line, from byte %u: %s", tag, MAPS_CUT,
					 line + MAPS_CUT);
		}
	}
	if (f)
		fclose(f);
	return cl_check(seen, "%s: the decoy's maps line is longer than %u bytes (test "
			"self-check)", tag, MAPS_CUT);
}

/* The caller: maps the file read-only and shared, declares it guest RAM with
 * the RX ring in it, attaches a tap to that ring, and sends it frames. */
static int ro_caller(void *arg)
{
	const struct ro_args *a = arg;
	const char *tag = a->unprivileged ? "caller (uid nobody)" : "caller (root, O_RDONLY)";
	struct hdev x;
	struct usv_vhost_memory *m = NULL;
	uint8_t *p = MAP_FAILED;
	int fd = -1, r, err;

	memset(&x, 0, sizeof(x));
	x.tag = tag;
	x.port.pkt = -1;
	x.d.fd = -1;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		x.d.init_call[vq] = x.d.init_err[vq] = x.d.call[vq] = x.d.kick[vq] = -1;
	/* The tap and the socket that feeds it are made while still root. */
	x.d.tap = cl_tap_open();
	x.open = true;
	if (x.d.tap < 0 || !hdev_tap_host_side(&x, MTU))
		goto out;
	if (a->unprivileged) {
		if (!hx_drop_privileges(UID_NOBODY))
			goto out;
		fd = open(a->path, O_RDWR | O_CLOEXEC);
		if (!cl_check(fd < 0 && errno == EACCES, "%s: may not open %s for writing "
			      "(test self-check)", tag, a->path))
			goto out;
	}
	fd = open(a->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cl_setup_fail("%s: open %s read-only", tag, a->path);
		goto out;
	}
	p = mmap(a->at, RO_SIZE, PROT_READ, MAP_SHARED | (a->at ? MAP_FIXED_NOREPLACE : 0), fd,
		 0);
	if (p == MAP_FAILED) {
		cl_setup_fail("%s: mmap %s", tag, a->path);
		goto out;
	}
	if (a->decoy && !map_decoy(a->decoy, p, tag))
		goto out;
	x.d.fd = open(hx.dev, O_RDWR | O_CLOEXEC);
	if (!cl_check(x.d.fd >= 0, "%s: opens %s (%s)", tag, hx.dev,
		      x.d.fd >= 0 ? "ok" : strerror(errno)))
		goto out;
	x.d.tag = tag;
	if (!cl_qemu_init(&x.d))
		goto out;
	m = calloc(1, sizeof(*m) + sizeof(m->regions[0]));
	if (!m)
		goto out;
	m->nregions = 1;
	m->regions[0] = (struct usv_vhost_memory_region){
		.guest_phys_addr = 0, .memory_size = RO_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)p };
	x.d.kick[VQ_RX] = cl_eventfd();
	x.d.call[VQ_RX] = cl_eventfd();
	cl_vring_file(x.d.fd, USV_VHOST_SET_VRING_CALL, VQ_RX, x.d.call[VQ_RX], 0, tag);
	cl_set_features(x.d.fd, CL_QEMU_FEATURES, 0, tag);
	cl_ioctl(x.d.fd, USV_VHOST_SET_MEM_TABLE, m, 0, "%s: SET_MEM_TABLE: the file", tag);
	cl_set_num(x.d.fd, VQ_RX, NUM, 0, tag);
	cl_set_base(x.d.fd, VQ_RX, 0, 0, tag);
	cl_set_addr(x.d.fd, VQ_RX, 0, (uint64_t)(uintptr_t)(p + RO_DESC),
		    (uint64_t)(uintptr_t)(p + RO_AVAIL), (uint64_t)(uintptr_t)(p + RO_USED),
		    RO_USED, 0, tag, "in the read-only file");
	cl_vring_file(x.d.fd, USV_VHOST_SET_VRING_KICK, VQ_RX, x.d.kick[VQ_RX], 0, tag);
	{
		struct usv_vhost_vring_file be = { .index = VQ_RX, .fd = x.d.tap };

		r = ioctl(x.d.fd, USV_VHOST_NET_SET_BACKEND, &be);
		err = r < 0 ? errno : 0;
	}
	cl_print("    %s: NET_SET_BACKEND of the ring in the read-only file -> %s", tag,
		 r == 0 ? "0" : strerrorname_np(err));
	if (r == 0) {
		uint8_t f[200];
		uint64_t cnt = 0;

		hdev_kick(&x, VQ_RX);
		for (unsigned i = 0; i < 4; i++)
			hdev_tap_send(&x, f, cl_make_frame(f, sizeof(f), ETH_RX, 100 + i));
		cl_check(cl_efd_wait(x.d.init_err[VQ_RX], cl_scaled(2000), &cnt),
			 "%s: attached to a ring in a read-only file, the ring stopped with "
			 "its ERR eventfd once frames came", tag);
	} else {
		cl_check(err == EFAULT, "%s: NET_SET_BACKEND of a ring in a read-only file "
			 "answered %s, expected EFAULT (or 0 and a stopped ring)", tag,
			 strerrorname_np(err));
	}
out:
	free(m);
	if (p != MAP_FAILED)
		munmap(p, RO_SIZE);
	if (fd >= 0)
		close(fd);
	hdev_close(&x);
	return 0;
}

/*
 * Makes dir/ppp.../ppp.../<forged>/x, the forged part starting at byte
 * MAPS_CUT of the maps line that will show it: "<the file's range> rw-s
 * 00000000 <its device and inode> /x". Leaves the directories made in
 * dirs[] (deepest last, *n of them) and the decoy's path in out.
 */
static bool make_decoy(const char *dir, const char *file, uint8_t *p, char dirs[][PATH_MAX],
		       unsigned *n, char *out)
{
	char base[PATH_MAX], forged[160];
	size_t at, want = MAPS_CUT - MAPS_PATH_COL;
	struct stat st;
	int fd;

	*n = 0;
	if (!realpath(dir, base) || stat(file, &st) < 0)
		return false;
	snprintf(forged, sizeof(forged), "%lx-%lx rw-s 00000000 %02x:%02x %lu ",
		 (unsigned long)(uintptr_t)p, (unsigned long)(uintptr_t)(p + RO_SIZE),
		 major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
	/* "/ppp..." directories until the forged one would start at byte want
	 * (each at least "/p", at most 200 p). */
	at = strlen(base);
	if (at + 1 > want)
		return false;
	while (at + 1 < want) {
		size_t left = want - 1 - at, pad = left - 1 > 200 ? 200 : left - 1;

		if (left - 1 - pad == 1)
			pad--;
		base[at++] = '/';
		memset(base + at, 'p', pad);
		at += pad;
		base[at] = '\0';
		if (mkdir(base, 0755) < 0)
			return false;
		snprintf(dirs[(*n)++], PATH_MAX, "%s", base);
	}
	snprintf(base + at, sizeof(base) - at, "/%s", forged);
	if (mkdir(base, 0755) < 0)
		return false;
	snprintf(dirs[(*n)++], PATH_MAX, "%s", base);
	snprintf(out, PATH_MAX, "%s/x", base);
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, 4096) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

static void readonly_file(bool unprivileged, bool forge)
{
	char path[PATH_MAX], decoy[PATH_MAX] = "", dirs[8][PATH_MAX];
	uint8_t *want = malloc(RO_SIZE), *got = malloc(RO_SIZE);
	struct ro_args a = { .path = path, .unprivileged = unprivileged };
	size_t diff = 0, first = SIZE_MAX;
	unsigned ndirs = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/hostile-ro.XXXXXX", hx.files);
	fd = mkstemp(path);
	if (!want || !got || fd < 0) {
		cl_setup_fail("a file in %s", hx.files);
		goto out;
	}
	ro_content(want);
	if (write(fd, want, RO_SIZE) != (ssize_t)RO_SIZE || fchmod(fd, 0644) < 0 ||
	    fsync(fd) < 0) {
		cl_setup_fail("write %s", path);
		close(fd);
		goto unlink;
	}
	close(fd);
	cl_print("    %s: root-owned, mode 0644, %u bytes with an RX ring in it", path, RO_SIZE);
	if (forge) {
		/* The caller maps the file where a map of it would go now. */
		void *probe = mmap(NULL, RO_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (probe == MAP_FAILED)
			goto unlink;
		munmap(probe, RO_SIZE);
		if (!make_decoy(hx.files, path, probe, dirs, &ndirs, decoy)) {
			cl_setup_fail("a decoy file with a forged maps line in %s", hx.files);
			goto unlink;
		}
		a.decoy = decoy;
		a.at = probe;
	}
	cl_reap(cl_spawn(ro_caller, &a, unprivileged ? "caller as nobody" : "caller"),
		cl_scaled(15000), "the caller");
	hx_check_daemon_alive("after the read-only file");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, got, RO_SIZE, 0) != (ssize_t)RO_SIZE) {
		cl_setup_fail("read %s back", path);
	} else {
		for (size_t i = 0; i < RO_SIZE; i++) {
			if (got[i] != want[i]) {
				diff++;
				if (first == SIZE_MAX)
					first = i;
			}
		}
		cl_check(diff == 0, "the read-only file is unchanged (%zu bytes differ, the first "
			 "at offset 0x%zx)", diff, first == SIZE_MAX ? 0 : first);
	}
	if (fd >= 0)
		close(fd);
unlink:
	unlink(path);
	if (decoy[0])
		unlink(decoy);
	while (ndirs)
		rmdir(dirs[--ndirs]);
out:
	free(want);
	free(got);
}

void scenario_readonly_root(void)
{
	readonly_file(false, false);
}

void scenario_readonly_unprivileged(void)
{
	readonly_file(true, false);
}

void scenario_readonly_forged_maps(void)
{
	readonly_file(false, true);
}

/* ---- the owner execs ---------------------------------------------------- */

/* What the victim (the new image) is told of the old one. */
struct victim_args {
	int dev, pkt, kick_tx, ifindex;
	int counts; /* memfd: the victim's checks and failures, for the count */
	uint64_t ram, ram_size;
	uint64_t desc[2], avail[2], used[2];
	uint16_t avail_idx[2];
};

static int clear_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

static int owner_main(void *arg)
{
	struct hdev x;
	struct victim_args v;
	char a[512], *argv[4];

	if (!hdev_up(&x, "owner", CL_RAM_ANON_PRIV, MTU))
		return 1;
	/* The rings work before the exec. A failure here ends the scenario:
	 * the new image could not report it (its passed checks are not
	 * counted either). */
	if (!hdev_tx_one(&x, 100, "before the exec") || !hdev_rx_one(&x, 100, "before the exec"))
		return 1;
	memset(&v, 0, sizeof(v));
	v.counts = *(const int *)arg;
	v.dev = x.d.fd;
	v.pkt = x.port.pkt;
	v.kick_tx = x.d.kick[VQ_TX];
	v.ifindex = x.port.ifindex;
	v.ram = (uint64_t)(uintptr_t)x.ram.base;
	v.ram_size = x.ram.size;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		v.desc[vq] = (uint64_t)(uintptr_t)x.d.ring[vq].desc;
		v.avail[vq] = (uint64_t)(uintptr_t)x.d.ring[vq].avail;
		v.used[vq] = (uint64_t)(uintptr_t)x.d.ring[vq].used;
		v.avail_idx[vq] = x.avail[vq];
	}
	if (clear_cloexec(v.dev) || clear_cloexec(v.pkt) || clear_cloexec(v.kick_tx) ||
	    clear_cloexec(x.d.tap)) {
		cl_setup_fail("keep the fds across exec");
		return 1;
	}
	snprintf(a, sizeof(a),
		 "--victim=%d,%d,%d,%d,%d,%llx,%llx,%llx,%llx,%llx,%llx,%llx,%llx,%u,%u",
		 v.counts, v.dev, v.pkt, v.kick_tx, v.ifindex, (unsigned long long)v.ram,
		 (unsigned long long)v.ram_size, (unsigned long long)v.desc[0],
		 (unsigned long long)v.avail[0], (unsigned long long)v.used[0],
		 (unsigned long long)v.desc[1], (unsigned long long)v.avail[1],
		 (unsigned long long)v.used[1], v.avail_idx[0], v.avail_idx[1]);
	argv[0] = hx.self_exe;
	argv[1] = a;
	argv[2] = cl_verbose ? NULL : "-q";
	argv[3] = NULL;
	cl_print("    owner (pid %d) execs itself with the device still open", (int)getpid());
	/* The image and its RAM go; the pid and the open device stay. */
	execv(hx.self_exe, argv);
	cl_setup_fail("execv %s", hx.self_exe);
	return 1;
}

/*
 * The new image: maps memory where the old rings and RAM were, writes
 * rings there that look valid (RX buffers posted, a TX packet), makes RX
 * work arrive and kicks TX, and checks its memory is untouched and that
 * the device does not take it for its owner.
 */
int victim_main(const char *spec)
{
	struct victim_args v;
	struct hdev x;
	unsigned a0, a1;
	uint8_t *snap, *ram;
	size_t diff = 0, first = SIZE_MAX;
	unsigned long long r[8];
	int n;

	memset(&v, 0, sizeof(v));
	n = sscanf(spec, "%d,%d,%d,%d,%d,%llx,%llx,%llx,%llx,%llx,%llx,%llx,%llx,%u,%u",
		   &v.counts, &v.dev, &v.pkt, &v.kick_tx, &v.ifindex, &r[0], &r[1], &r[2], &r[3],
		   &r[4], &r[5], &r[6], &r[7], &a0, &a1);
	if (n != 15) {
		cl_print("FAIL: victim: bad --victim argument");
		return 1;
	}
	v.ram = r[0];
	v.ram_size = r[1];
	cl_print("    victim: the new image of pid %d", (int)getpid());
	ram = mmap((void *)(uintptr_t)v.ram, v.ram_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (ram != (void *)(uintptr_t)v.ram) {
		cl_setup_fail("victim: map the old RAM's addresses");
		return 1;
	}
	for (size_t i = 0; i < v.ram_size; i++)
		ram[i] = (uint8_t)(0xa5 ^ (i >> 12));
	/* A device view of it, to reuse the ring helpers. */
	memset(&x, 0, sizeof(x));
	x.tag = "victim";
	x.port.pkt = v.pkt;
	x.port.ifindex = v.ifindex;
	x.d.kick[VQ_TX] = v.kick_tx;
	x.ram.base = ram;
	x.ram.size = v.ram_size;
	x.ram.nregions = 2;
	x.ram.reg[0] = (typeof(x.ram.reg[0])){ 0, v.ram_size / 2, 0 };
	x.ram.reg[1] = (typeof(x.ram.reg[1])){ CL_HIGH_GPA, v.ram_size / 2, v.ram_size / 2 };
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x.d.ring[vq].desc = (void *)(uintptr_t)r[2 + 3 * vq];
		x.d.ring[vq].avail = (void *)(uintptr_t)r[3 + 3 * vq];
		x.d.ring[vq].used = (void *)(uintptr_t)r[4 + 3 * vq];
		x.avail[vq] = (uint16_t)(vq ? a1 : a0);
		/* used_event: interrupt at once; avail->flags 0. */
		x.d.ring[vq].avail->flags = 0;
		__atomic_store_n(&x.d.ring[vq].avail->idx, x.avail[vq], __ATOMIC_RELEASE);
		hdev_set_used_event(&x, vq, 0);
	}
	hdev_rx_post(&x, 16);
	x.tx_desc = 0;
	hdev_tx_post(&x, 100, 0x77777777);
	snap = malloc(v.ram_size);
	if (!snap) {
		cl_setup_fail("victim: snapshot");
		return 1;
	}
	memcpy(snap, ram, v.ram_size);
	/* The daemon must not take the new image for the owner. */
	{
		struct usv_vhost_vring_state s = { .index = 0 };

		cl_ioctl(v.dev, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s, EPERM,
			 "victim: the new image asks the old image's device");
	}
	/* RX work and a TX kick. */
	{
		uint8_t f[300];

		for (unsigned i = 0; i < 4; i++)
			hdev_tap_send(&x, f, cl_make_frame(f, sizeof(f), ETH_RX, 0x55550000u + i));
	}
	hdev_kick(&x, VQ_TX);
	{
		static uint8_t got[256];

		cl_check(hdev_tap_recv(&x, ETH_TX, 0x77777777, got, sizeof(got),
				       cl_scaled(1000)) < 0,
			 "victim: the new image's TX packet did not leave through the old "
			 "image's tap");
	}
	for (size_t i = 0; i < v.ram_size; i++) {
		if (ram[i] != snap[i]) {
			diff++;
			if (first == SIZE_MAX)
				first = i;
		}
	}
	cl_check(diff == 0, "victim: its memory at the old rings' and RAM's addresses is "
		 "unchanged (%zu bytes differ, the first at +0x%zx)", diff,
		 first == SIZE_MAX ? 0 : first);
	free(snap);
	{
		unsigned long c = cl_checks();

		if (pwrite(v.counts, &c, sizeof(c), 0) != sizeof(c))
			cl_setup_fail("victim: report its checks");
	}
	return 0;
}

void scenario_owner_exec(void)
{
	/* The victim is another image: it reports its count of checks here
	 * (its exit status is its count of failures, as any child's). */
	int counts = memfd_create("hostile-victim-counts", 0);
	unsigned long c = 0;
	pid_t pid;

	if (counts < 0 || ftruncate(counts, sizeof(c)) < 0) {
		cl_setup_fail("memfd for the victim's counts");
		return;
	}
	pid = cl_spawn(owner_main, &counts, "owner");
	cl_reap(pid, 20000, "the owner and its new image");
	if (pread(counts, &c, sizeof(c), 0) == sizeof(c))
		cl_add_checks(c);
	close(counts);
	hx_check_daemon_alive("after the owner's exec");
}

/* ---- guest RAM truncated under the daemon ------------------------------- */

void scenario_truncated_ram(void)
{
	struct bystander b;
	struct hdev x;
	unsigned from, handle;
	char needle[64];
	uint32_t seq;
	uint8_t f[100];

	if (!bystander_start(&b) ||
	    !hdev_up(&x, "attacker (unsealed memfd RAM)", CL_RAM_MEMFD_UNSEALED, MTU))
		goto out;
	hdev_tx_one(&x, 100, "before the truncation");
	hdev_rx_one(&x, 100, "before the truncation");
	handle = hdev_handle(&x);
	/* Work ready in the rings, not kicked yet. */
	hdev_rx_post(&x, 8);
	hdev_kick(&x, VQ_RX);
	seq = ++x.seq;
	hdev_tx_post(&x, 100, seq);
	from = bystander_mark(&b);
	cl_check(ftruncate(x.ram.memfd, 0) == 0, "the caller truncates its unsealed RAM memfd "
		 "to 0 (%s)", strerror(errno));
	/* From here the caller must not touch its RAM either. */
	hdev_kick(&x, VQ_TX);
	hdev_tap_send(&x, f, cl_make_frame(f, sizeof(f), ETH_RX, ++x.seq));
	cl_sleep_ms(cl_scaled(500));
	hx_check_daemon_alive("after the RAM was truncated under it");
	snprintf(needle, sizeof(needle), "dev %u: vq ", handle);
	{
		char s0[64], s1[64];
		uint64_t end = cl_now_ms() + cl_scaled(3000);
		bool seen;

		snprintf(s0, sizeof(s0), "dev %u: vq 0 stopped", handle);
		snprintf(s1, sizeof(s1), "dev %u: vq 1 stopped", handle);
		while (!(seen = cl_file_has(hx.log, s0) || cl_file_has(hx.log, s1)) &&
		       cl_now_ms() < end)
			cl_sleep_ms(50);
		cl_check(seen, "the daemon log says \"%s\" or \"%s\" (the rings touched the "
			 "truncated RAM)", s0, s1);
	}
	bystander_check(&b, from, "a device's RAM truncated", T_LATENCY);
	hx_check_daemon_alive("at the end");
	/* The RAM is gone: unmap it without reading it. */
	hdev_close(&x);
out:
	bystander_stop(&b);
}

void scenario_sealed_ram(void)
{
	struct hdev x;
	int r, err;

	if (!hdev_up(&x, "caller (sealed memfd RAM)", CL_RAM_MEMFD, MTU))
		return;
	hdev_tx_one(&x, 100, "before");
	r = ftruncate(x.ram.memfd, 0);
	err = errno;
	cl_check(r < 0 && err == EPERM, "ftruncate of the sealed RAM memfd fails with EPERM "
		 "(got %s)", r < 0 ? strerrorname_np(err) : "0");
	hdev_tx_one(&x, 100, "after the refused truncation");
	hdev_rx_one(&x, 100, "after the refused truncation");
	hdev_check_running(&x, VQ_TX);
	hx_check_daemon_alive("after the refused truncation");
	hdev_close(&x);
}
