/* SPDX-License-Identifier: MIT */
/*
 * qemu_client: plays QEMU 7.2 against a vhost-net device file (usvhostd's
 * FUSE file, or the kernel's /dev/vhost-net as the reference) and checks
 * every answer against what the kernel's drivers/vhost gives.
 *
 *   qemu_client --dev=PATH [-v] [SCENARIO...]     (names or numbers)
 *   qemu_client --list
 *
 * Needs root (taps) in a network namespace of its own: qemu-sequence.sh sets
 * that up. Prints one line per scenario and "N passed, N failed"; exits 0
 * when everything passed, 1 otherwise, 77 when it cannot run here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "client_lib.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define MiB (1024u * 1024u)
#define PAGE 4096u
/* Never a vhost ioctl: takes the kernel's unknown path (owner check, u32
 * index at arg, then ENOTTY). */
#define UNKNOWN_IOCTL _IO(USV_VHOST_VIRTIO, 0x7f)
/* An address access_ok() refuses: the kernel half on x86-64. */
#define KERNEL_ADDR 0xffff800000000000ULL

static const char *dev_path;
/* One line of detail a scenario may leave for its summary line. */
static char scenario_detail[256];

#define U64(x) ((unsigned long long)(x))

/* ---- small helpers ------------------------------------------------------- */

static int open_dev(const char *tag)
{
	int fd = open(dev_path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		cl_setup_fail("%s: open %s", tag, dev_path);
	return fd;
}

/* Two pages with the second unmapped: an argument placed at the end of the
 * first runs into a hole, like a caller's short buffer. */
static uint8_t *page_before_hole(void)
{
	uint8_t *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		cl_setup_fail("mmap two pages");
		return NULL;
	}
	munmap(p + PAGE, PAGE);
	return p;
}

static struct usv_vhost_memory *table_alloc(uint32_t n)
{
	struct usv_vhost_memory *m =
		calloc(1, sizeof(*m) + (size_t)n * sizeof(m->regions[0]));

	if (!m)
		cl_setup_fail("calloc table of %u regions", n);
	else
		m->nregions = n;
	return m;
}

/* used->flags back to 0xffff, then attach, then it must read 0. */
static bool attach_and_see_flags(int fd, unsigned vq, struct cl_ring *r,
				 int tap, const char *tag)
{
	uint16_t v;

	__atomic_store_n(&r->used->flags, (uint16_t)0xffff, __ATOMIC_RELEASE);
	if (!cl_attach(fd, vq, tap, 0, tag, "tap"))
		return false;
	v = cl_load16(&r->used->flags);
	return cl_check(v == 0, "%s: vq %u used->flags = 0x%x after attach, "
			"expected 0", tag, vq, v);
}

/* ---- scenario 1 and 2: the QEMU 7.2 sequence ----------------------------- */

struct vcpu_job {
	struct cl_dev *d;
	uint16_t base;
	bool ok;
	pid_t tid;
};

/* QEMU starts vhost at DRIVER_OK from a vCPU thread, not the main thread. */
static void *vcpu_start(void *p)
{
	struct vcpu_job *job = p;

	job->tid = gettid();
	job->ok = cl_qemu_start(job->d, job->base);
	return NULL;
}

static bool start_from_thread(struct cl_dev *d, uint16_t base)
{
	struct vcpu_job job = { .d = d, .base = base };
	pthread_t t;
	int r = pthread_create(&t, NULL, vcpu_start, &job);

	if (r != 0) {
		errno = r;
		cl_setup_fail("pthread_create");
		return false;
	}
	cl_join(t, 20000, "vcpu");
	cl_check(job.tid != getpid(), "%s: the start ran on the main thread",
		 d->tag);
	return job.ok;
}

static void qemu72(enum cl_ram_kind kind, const char *tag)
{
	struct cl_ram ram;
	struct cl_dev d;

	if (!cl_ram_init(&ram, kind, 64 * MiB))
		return;
	if (cl_dev_open(&d, dev_path, &ram, tag)) {
		cl_qemu_init(&d);
		snprintf(scenario_detail, sizeof(scenario_detail),
			 "features offered 0x%llx", U64(d.offered));
		start_from_thread(&d, 0);
		cl_qemu_stop(&d);
		cl_dev_close(&d);
	}
	cl_ram_fini(&ram);
}

static void scenario_qemu72_memfd(void)
{
	qemu72(CL_RAM_MEMFD, "memfd");
}

static void scenario_qemu72_anon(void)
{
	qemu72(CL_RAM_ANON_PRIV, "anon");
}

/* ---- scenario 3: driver reload ------------------------------------------- */

static void scenario_reload(void)
{
	static const uint16_t bases[] = { 0, 1000, 0xffff, 3 };
	struct cl_ram ram;
	struct cl_dev d;
	void *prev_desc[USV_NET_NVQS] = { NULL, NULL };

	if (!cl_ram_init(&ram, CL_RAM_MEMFD, 64 * MiB))
		return;
	if (cl_dev_open(&d, dev_path, &ram, "reload")) {
		cl_qemu_init(&d);
		for (unsigned i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
			int prev_kick = i ? dup(d.kick[0]) : -1;

			start_from_thread(&d, bases[i]);
			/* A reloaded driver has new rings and new kick fds. */
			if (i) {
				cl_check(d.ring[0].desc != prev_desc[0] &&
						 d.ring[1].desc != prev_desc[1],
					 "reload %u: ring addresses did not change (test bug)",
					 i);
			}
			prev_desc[0] = d.ring[0].desc;
			prev_desc[1] = d.ring[1].desc;
			cl_close(&prev_kick);
			cl_qemu_stop(&d);
		}
		snprintf(scenario_detail, sizeof(scenario_detail),
			 "%zu start/stop cycles, bases 0, 1000, 0xffff, 3",
			 sizeof(bases) / sizeof(bases[0]));
		cl_dev_close(&d);
	}
	cl_ram_fini(&ram);
}

/* ---- scenario 4: another process gets EPERM ------------------------------ */

/* A process QEMU forked inherits the fd but not the address space. */
static int s4_not_owner(void *p)
{
	struct cl_dev *d = p;
	struct usv_vhost_vring_state st = { .index = 0, .num = CL_RING_NUM };
	struct usv_vhost_vring_file b = { .index = 0, .fd = -1 };
	struct usv_vhost_memory *m = cl_ram_table(d->ram);
	uint64_t f = 0, fa[3] = { 2, 0, 0 };
	uint32_t zero = 0;
	int minus1 = -1, efd = cl_eventfd();
	struct usv_vhost_vring_file call = { .index = 1, .fd = efd };
	const char *t = "child";

	cl_ioctl(d->fd, USV_VHOST_SET_VRING_NUM, &st, EPERM, "%s: SET_VRING_NUM", t);
	cl_ioctl(d->fd, USV_VHOST_SET_VRING_BASE, &st, EPERM, "%s: SET_VRING_BASE", t);
	cl_ioctl(d->fd, USV_VHOST_GET_VRING_BASE, &st, EPERM, "%s: GET_VRING_BASE", t);
	cl_ioctl(d->fd, USV_VHOST_SET_VRING_CALL, &call, EPERM, "%s: SET_VRING_CALL", t);
	if (m)
		cl_ioctl(d->fd, USV_VHOST_SET_MEM_TABLE, m, EPERM, "%s: SET_MEM_TABLE", t);
	cl_ioctl(d->fd, USV_VHOST_SET_LOG_FD, &minus1, EPERM, "%s: SET_LOG_FD -1", t);
	cl_ioctl(d->fd, USV_VHOST_NET_SET_BACKEND, &b, EPERM,
		 "%s: NET_SET_BACKEND vq 0 -1 (must not stop the owner's ring)", t);
	b.index = 2;
	cl_ioctl(d->fd, USV_VHOST_NET_SET_BACKEND, &b, EPERM,
		 "%s: NET_SET_BACKEND vq 2 (owner check comes first)", t);
	cl_ioctl(d->fd, UNKNOWN_IOCTL, &zero, EPERM, "%s: unknown ioctl", t);
	cl_ioctl(d->fd, USV_VHOST_RESET_OWNER, NULL, EPERM, "%s: RESET_OWNER", t);
	cl_ioctl(d->fd, USV_VHOST_SET_OWNER, NULL, EBUSY, "%s: SET_OWNER", t);

	/* vhost_net_ioctl() serves the feature ioctls with no owner check. */
	if (cl_ioctl(d->fd, USV_VHOST_GET_FEATURES, &f, 0, "%s: GET_FEATURES", t))
		cl_check(f == d->offered, "%s: GET_FEATURES 0x%llx, owner saw 0x%llx",
			 t, U64(f), U64(d->offered));
	f = CL_QEMU_FEATURES;
	cl_ioctl(d->fd, USV_VHOST_SET_FEATURES, &f, 0, "%s: SET_FEATURES 0x%llx", t,
		 U64(f));
	f = 0;
	if (cl_ioctl(d->fd, USV_VHOST_GET_BACKEND_FEATURES, &f, 0,
		     "%s: GET_BACKEND_FEATURES", t))
		cl_check(f == CL_BACKEND_FEATURES,
			 "%s: GET_BACKEND_FEATURES 0x%llx", t, U64(f));
	f = CL_BACKEND_FEATURES;
	cl_ioctl(d->fd, USV_VHOST_SET_BACKEND_FEATURES, &f, 0,
		 "%s: SET_BACKEND_FEATURES 0x2", t);
	if (cl_ioctl(d->fd, USV_VHOST_GET_FEATURES_ARRAY, fa, 0,
		     "%s: GET_FEATURES_ARRAY count 2", t))
		cl_check(fa[0] == 2 && fa[1] == d->offered,
			 "%s: GET_FEATURES_ARRAY gave {%llu, 0x%llx}", t,
			 U64(fa[0]), U64(fa[1]));
	free(m);
	cl_close(&efd);
	return 0;
}

/* Any thread of the owning process passes the owner check. */
static void *s4_owner_thread(void *p)
{
	struct cl_dev *d = p;
	struct usv_vhost_vring_state bl = { .index = 1, .num = 20 };
	const char *t = "owner thread";

	/* While running QEMU masks and unmasks vq 1 with pairs of CALL. */
	cl_vring_file(d->fd, USV_VHOST_SET_VRING_CALL, 1, d->init_call[1], 0, t);
	cl_vring_file(d->fd, USV_VHOST_SET_VRING_CALL, 1, d->call[1], 0, t);
	cl_ioctl(d->fd, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &bl, 0,
		 "%s: SET_VRING_BUSYLOOP_TIMEOUT", t);
	cl_set_num(d->fd, 0, CL_RING_NUM, EBUSY, "owner thread (attached)");
	return NULL;
}

static void scenario_second_process(void)
{
	struct cl_ram ram;
	struct cl_dev d;

	if (!cl_ram_init(&ram, CL_RAM_ANON_PRIV, 16 * MiB))
		return;
	if (cl_dev_open(&d, dev_path, &ram, "owner")) {
		pthread_t t;
		int r;

		cl_qemu_init(&d);
		cl_qemu_start(&d, 5);
		cl_reap(cl_spawn(s4_not_owner, &d, "forked child"), 30000,
			"forked child");
		/* The child's EPERM'd NET_SET_BACKEND -1 and its exit (a FLUSH of
		 * a shared file, not a release) left the rings running. */
		cl_set_num(d.fd, 0, CL_RING_NUM, EBUSY, "owner after child (attached)");
		cl_set_num(d.fd, 1, CL_RING_NUM, EBUSY, "owner after child (attached)");
		r = pthread_create(&t, NULL, s4_owner_thread, &d);
		if (r == 0) {
			cl_join(t, 20000, "owner thread");
		} else {
			errno = r;
			cl_setup_fail("pthread_create");
		}
		cl_qemu_stop(&d);
		cl_dev_close(&d);
	}
	cl_ram_fini(&ram);
}

/* ---- scenario 5: several clients and devices at once --------------------- */

#define S5_PROCS 2
#define S5_DEVS 3
#define S5_ITERS 4

struct s5_thread {
	unsigned proc, dev;
	char tag[48];
};

static void *s5_device_thread(void *p)
{
	struct s5_thread *t = p;

	for (unsigned it = 0; it < S5_ITERS; it++) {
		/* Mix the RAM kinds so both access paths run concurrently. */
		enum cl_ram_kind kind = (t->dev + it) % 2 ? CL_RAM_ANON_PRIV :
							    CL_RAM_MEMFD;
		uint16_t base = (uint16_t)(t->proc * 10000 + t->dev * 1000 + it * 10);
		struct cl_ram ram;
		struct cl_dev d;

		snprintf(t->tag, sizeof(t->tag), "p%u/dev%u/iter%u", t->proc,
			 t->dev, it);
		if (!cl_ram_init(&ram, kind, 8 * MiB))
			return NULL;
		if (cl_dev_open(&d, dev_path, &ram, t->tag)) {
			cl_qemu_init(&d);
			cl_qemu_start(&d, base);
			cl_qemu_stop(&d);
			cl_qemu_start(&d, (uint16_t)(base + 1));
			cl_qemu_stop(&d);
			cl_dev_close(&d);
		}
		cl_ram_fini(&ram);
	}
	return NULL;
}

static int s5_client(void *p)
{
	unsigned proc = *(unsigned *)p;
	struct s5_thread th[S5_DEVS];
	pthread_t tid[S5_DEVS];
	bool started[S5_DEVS];

	for (unsigned i = 0; i < S5_DEVS; i++) {
		int r;

		th[i].proc = proc;
		th[i].dev = i;
		r = pthread_create(&tid[i], NULL, s5_device_thread, &th[i]);
		started[i] = r == 0;
		if (r) {
			errno = r;
			cl_setup_fail("pthread_create");
		}
	}
	for (unsigned i = 0; i < S5_DEVS; i++)
		if (started[i])
			cl_join(tid[i], 90000, "device thread");
	return 0;
}

static void scenario_concurrent(void)
{
	unsigned ids[S5_PROCS];
	pid_t pid[S5_PROCS];

	for (unsigned i = 0; i < S5_PROCS; i++) {
		ids[i] = i;
		pid[i] = cl_spawn(s5_client, &ids[i], i ? "client 1" : "client 0");
	}
	for (unsigned i = 0; i < S5_PROCS; i++)
		cl_reap(pid[i], 120000, i ? "client 1" : "client 0");
	snprintf(scenario_detail, sizeof(scenario_detail),
		 "%u processes x %u devices x %u iterations", S5_PROCS, S5_DEVS,
		 S5_ITERS);
}

/* ---- scenario 6: a client that exits without cleaning up ----------------- */

static int s6_abandon(void *p)
{
	static struct cl_ram ram[2];
	static struct cl_dev d[2];
	static const char *const tags[2] = { "abandoned 0", "abandoned 1" };

	(void)p;
	for (unsigned i = 0; i < 2; i++) {
		struct usv_vhost_vring_state mark = { .index = 0,
						      .num = CL_ABANDON_MARKER };

		if (!cl_ram_init(&ram[i], i ? CL_RAM_ANON_PRIV : CL_RAM_MEMFD,
				 8 * MiB))
			return 1;
		if (!cl_dev_open(&d[i], dev_path, &ram[i], tags[i]))
			return 1;
		cl_qemu_init(&d[i]);
		cl_qemu_start(&d[i], 0);
		/* Lets qemu-sequence.sh find these devices in the daemon log. */
		cl_ioctl(d[i].fd, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &mark, 0,
			 "%s: SET_VRING_BUSYLOOP_TIMEOUT marker", tags[i]);
	}
	/* Exit with both devices attached, fds open, RAM mapped: the kernel
	 * closes the files, the daemon sees the releases. */
	return 0;
}

static void scenario_abandoned(void)
{
	struct cl_ram ram;
	struct cl_dev d;

	cl_reap(cl_spawn(s6_abandon, NULL, "abandoning client"), 30000,
		"abandoning client");
	/* The daemon must still serve a whole QEMU sequence afterwards. */
	if (!cl_ram_init(&ram, CL_RAM_ANON_PRIV, 16 * MiB))
		return;
	if (cl_dev_open(&d, dev_path, &ram, "after abandon")) {
		cl_qemu_init(&d);
		start_from_thread(&d, 9);
		cl_qemu_stop(&d);
		cl_dev_close(&d);
	}
	cl_ram_fini(&ram);
	snprintf(scenario_detail, sizeof(scenario_detail),
		 "2 devices abandoned attached (marker %u); the script checks "
		 "their release", CL_ABANDON_MARKER);
}

/* ---- scenario 7: the errors the kernel gives ----------------------------- */

static void s7_before_owner(void)
{
	const char *t = "before SET_OWNER";
	struct usv_vhost_vring_state st = { .index = 0, .num = CL_RING_NUM };
	struct usv_vhost_vring_file f = { .index = 0, .fd = -1 };
	struct usv_vhost_memory empty = { .nregions = 0 };
	uint64_t feat = 0;
	uint32_t zero = 0;
	int minus1 = -1;
	int fd = open_dev(t);

	if (fd < 0)
		return;
	cl_ioctl(fd, USV_VHOST_SET_VRING_NUM, &st, EPERM, "%s", t);
	cl_ioctl(fd, USV_VHOST_GET_VRING_BASE, &st, EPERM, "%s", t);
	cl_ioctl(fd, USV_VHOST_SET_VRING_CALL, &f, EPERM, "%s", t);
	cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, &empty, EPERM, "%s", t);
	cl_ioctl(fd, USV_VHOST_SET_LOG_FD, &minus1, EPERM, "%s", t);
	cl_ioctl(fd, USV_VHOST_NET_SET_BACKEND, &f, EPERM, "%s", t);
	cl_ioctl(fd, UNKNOWN_IOCTL, &zero, EPERM, "%s: unknown ioctl", t);
	cl_ioctl(fd, USV_VHOST_RESET_OWNER, NULL, EPERM, "%s", t);
	/* No owner check on the feature ioctls. */
	cl_ioctl(fd, USV_VHOST_GET_FEATURES, &feat, 0, "%s", t);
	feat = CL_QEMU_FEATURES;
	cl_ioctl(fd, USV_VHOST_SET_FEATURES, &feat, 0, "%s", t);
	cl_ioctl(fd, USV_VHOST_GET_BACKEND_FEATURES, &feat, 0, "%s", t);
	cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, 0, "first SET_OWNER");
	cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, EBUSY, "second SET_OWNER");
	cl_ioctl(fd, USV_VHOST_SET_VRING_NUM, &st, 0, "owner");
	close(fd);
}

static void s7_features(int fd, uint64_t offered)
{
	const char *t = "features";
	const uint64_t pat = 0xa5a5a5a5a5a5a5a5ULL;
	uint64_t bf;

	/* The packed ring: refused by the kernel, taken where offered
	 * (usvhostd's default profile). */
	int packed_err = offered & USV_BIT(USV_F_RING_PACKED) ? 0 : EOPNOTSUPP;

	cl_set_features(fd, USV_BIT(USV_F_RING_PACKED), packed_err, "packed ring");
	cl_set_features(fd, USV_BIT(63), EOPNOTSUPP, "bit 63");
	cl_set_features(fd, CL_QEMU_FEATURES | USV_BIT(USV_F_RING_PACKED),
			packed_err, "QEMU's set plus packed ring");
	cl_set_features(fd, CL_QEMU_FEATURES, 0, t);

	bf = 1;
	cl_ioctl(fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, EOPNOTSUPP,
		 "SET_BACKEND_FEATURES 0x1 (IOTLB_MSG_V2 is bit 1)");
	bf = USV_BIT(USV_BACKEND_F_IOTLB_BATCH);
	cl_ioctl(fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, EOPNOTSUPP,
		 "SET_BACKEND_FEATURES 0x4 (vhost-net offers only MSG_V2)");
	bf = 0;
	cl_ioctl(fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, 0,
		 "SET_BACKEND_FEATURES 0");
	bf = CL_BACKEND_FEATURES;
	cl_ioctl(fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, 0,
		 "SET_BACKEND_FEATURES 0x2");

	/* GET_FEATURES_ARRAY: count words, zero-filled past what it knows,
	 * count left as it was. Linux 6.17+ offers UDP tunnel GSO in word 1;
	 * usvhostd does not, so its word 1 is 0. */
	{
		uint64_t a[5] = { 4, pat, pat, pat, pat };

		if (cl_ioctl(fd, USV_VHOST_GET_FEATURES_ARRAY, a, 0,
			     "GET_FEATURES_ARRAY count 4"))
			cl_check(a[0] == 4 && a[1] == offered && a[2] == 0 &&
					 a[3] == 0 && a[4] == 0,
				 "GET_FEATURES_ARRAY count 4 gave {%llu, 0x%llx, "
				 "0x%llx, 0x%llx, 0x%llx}, expected {4, 0x%llx, 0, 0, 0}",
				 U64(a[0]), U64(a[1]), U64(a[2]), U64(a[3]), U64(a[4]),
				 U64(offered));
	}
	{
		uint64_t a[3] = { 1, pat, pat };

		if (cl_ioctl(fd, USV_VHOST_GET_FEATURES_ARRAY, a, 0,
			     "GET_FEATURES_ARRAY count 1"))
			cl_check(a[0] == 1 && a[1] == offered && a[2] == pat,
				 "GET_FEATURES_ARRAY count 1 gave {%llu, 0x%llx, "
				 "0x%llx}: must write exactly one word",
				 U64(a[0]), U64(a[1]), U64(a[2]));
	}
	{
		uint64_t a[2] = { 0, pat };

		if (cl_ioctl(fd, USV_VHOST_GET_FEATURES_ARRAY, a, 0,
			     "GET_FEATURES_ARRAY count 0"))
			cl_check(a[0] == 0 && a[1] == pat,
				 "GET_FEATURES_ARRAY count 0 wrote past the count");
	}
	{
		uint64_t a[3] = { 2, CL_QEMU_FEATURES, 0 };

		cl_ioctl(fd, USV_VHOST_SET_FEATURES_ARRAY, a, 0,
			 "SET_FEATURES_ARRAY {2, [0x%llx, 0]}", U64(a[1]));
	}
	{
		uint64_t a[4] = { 3, CL_QEMU_FEATURES, 0, 1 };

		cl_ioctl(fd, USV_VHOST_SET_FEATURES_ARRAY, a, EOPNOTSUPP,
			 "SET_FEATURES_ARRAY count 3, third word 1");
		a[3] = 0;
		cl_ioctl(fd, USV_VHOST_SET_FEATURES_ARRAY, a, 0,
			 "SET_FEATURES_ARRAY count 3, third word 0");
	}
	{
		uint64_t a[2] = { 1, CL_QEMU_FEATURES | USV_BIT(USV_F_RING_PACKED) };

		cl_ioctl(fd, USV_VHOST_SET_FEATURES_ARRAY, a,
			 offered & USV_BIT(USV_F_RING_PACKED) ? 0 : EOPNOTSUPP,
			 "SET_FEATURES_ARRAY {1, [QEMU's | packed ring]}");
	}
	{
		uint64_t a[3] = { 2, CL_QEMU_FEATURES, USV_BIT(63) };

		cl_ioctl(fd, USV_VHOST_SET_FEATURES_ARRAY, a, EOPNOTSUPP,
			 "SET_FEATURES_ARRAY word 1 bit 63 (feature 127)");
	}
	cl_set_features(fd, CL_QEMU_FEATURES, 0, t);
}

static void s7_mem_table(int fd, const struct cl_ram *ram)
{
	const char *t = "mem table";
	struct usv_vhost_memory *m = cl_ram_table(ram);
	uint8_t *pg = page_before_hole();

	if (m) {
		m->padding = 1;
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, m, EOPNOTSUPP, "padding 1");
		m->padding = 0;
		m->regions[1].memory_size = 0; /* at gpa 4 GiB */
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, m, EFAULT,
			 "region of size 0 at gpa 0x%llx",
			 U64(m->regions[1].guest_phys_addr));
		m->regions[1].guest_phys_addr = 0xfffffffffffff000ULL;
		m->regions[1].memory_size = 0x2000;
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, m, EFAULT,
			 "region gpa 0xfffffffffffff000 size 0x2000 (wraps)");
		free(m);
	}
	if (pg) {
		/* The header is the last 8 bytes before a hole: the kernel
		 * checks padding, then nregions, and only then reads the array. */
		struct usv_vhost_memory *h =
			(struct usv_vhost_memory *)(pg + PAGE - sizeof(*h));

		h->nregions = 65;
		h->padding = 1;
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, h, EOPNOTSUPP,
			 "padding 1 with 65 regions (padding is checked first)");
		h->padding = 0;
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, h, E2BIG,
			 "65 regions (checked before reading them)");
		h->nregions = 1;
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, h, EFAULT,
			 "1 region whose entry lies in unmapped memory");
		h->nregions = 0;
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, h, 0, "0 regions");
		munmap(pg, PAGE);
	}
	m = table_alloc(USV_MAX_MEM_REGIONS);
	if (m) {
		/* 64 is the limit itself: accepted. */
		for (unsigned i = 0; i < USV_MAX_MEM_REGIONS; i++) {
			m->regions[i].guest_phys_addr = (uint64_t)i * 0x100000;
			m->regions[i].memory_size = 0x10000;
			m->regions[i].userspace_addr =
				(uint64_t)(uintptr_t)(ram->base + (size_t)i * 0x10000);
		}
		cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, m, 0, "64 regions");
		free(m);
	}
	cl_set_mem_table(fd, ram, t);
}

static void s7_vring_num_index(int fd, int tap)
{
	const char *t = "num";
	struct usv_vhost_vring_state s2 = { .index = 2, .num = 0 };
	struct usv_vhost_vring_file f2 = { .index = 2, .fd = -1 };
	struct usv_vhost_vring_addr a2 = { .index = 2 };

	cl_set_num(fd, 0, 0, EINVAL, t);
	cl_set_num(fd, 0, 3, EINVAL, t);
	cl_set_num(fd, 0, 65536, EINVAL, t);
	cl_set_num(fd, 0, 0xffffffffu, EINVAL, t);
	cl_set_num(fd, 0, 32768, 0, t);
	cl_set_num(fd, 1, 1, 0, t);
	cl_set_num(fd, 0, CL_RING_NUM, 0, t);
	cl_set_num(fd, 1, CL_RING_NUM, 0, t);

	/* The vring path reads the index first: 2 rings only. */
	s2.num = CL_RING_NUM;
	cl_ioctl(fd, USV_VHOST_SET_VRING_NUM, &s2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_SET_VRING_BASE, &s2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_GET_VRING_BASE, &s2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_SET_VRING_ADDR, &a2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_SET_VRING_KICK, &f2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_SET_VRING_CALL, &f2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_SET_VRING_ERR, &f2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_SET_VRING_ENDIAN, &s2, ENOBUFS,
		 "index 2 (index before ENOTTY)");
	cl_ioctl(fd, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s2, ENOBUFS, "index 2");
	cl_ioctl(fd, USV_VHOST_NET_SET_BACKEND, &f2, ENOBUFS, "index 2, fd -1");
	f2.fd = tap;
	cl_ioctl(fd, USV_VHOST_NET_SET_BACKEND, &f2, ENOBUFS, "index 2, tap");
	s2.index = 0x80000000u;
	cl_ioctl(fd, USV_VHOST_SET_VRING_NUM, &s2, ENOBUFS, "index 0x80000000");
}

static void s7_vring_addr_base(int fd, const struct cl_ring *r)
{
	const char *t = "addr";
	uint64_t desc = (uint64_t)(uintptr_t)r->desc;
	uint64_t avail = (uint64_t)(uintptr_t)r->avail;
	uint64_t used = (uint64_t)(uintptr_t)r->used;

	cl_set_addr(fd, 0, 0, desc, avail + 1, used, r->gpa_used, EINVAL, t,
		    "avail not 2-aligned");
	cl_set_addr(fd, 0, 0, desc, avail, used + 2, r->gpa_used, EINVAL, t,
		    "used not 4-aligned");
	cl_set_addr(fd, 0, 0, desc, avail, used, r->gpa_used + 2, EINVAL, t,
		    "log_guest_addr not 4-aligned");
	cl_set_addr(fd, 0, 0x2, desc, avail, used, r->gpa_used, EOPNOTSUPP, t,
		    "flags 0x2");
	cl_set_addr(fd, 0, 0x2, desc, avail + 1, used, r->gpa_used, EOPNOTSUPP, t,
		    "flags 0x2 and avail misaligned (flags are checked first)");
	cl_set_addr(fd, 0, 0xffffffffu, desc, avail, used, r->gpa_used, EOPNOTSUPP,
		    t, "flags 0xffffffff");
	cl_set_addr(fd, 0, 1u << USV_VHOST_VRING_F_LOG, desc, avail, used,
		    r->gpa_used, 0, t, "flags LOG");
	cl_set_ring_addr(fd, 0, r, 0, t, "valid");

	cl_set_base(fd, 0, 0x10000, EINVAL, "base");
	cl_set_base(fd, 0, 0xffffffffu, EINVAL, "base");
	cl_set_base(fd, 0, 0xffff, 0, "base");
	cl_expect_base(fd, 0, 0xffff, "base");
	cl_set_base(fd, 0, 0, 0, "base");
	cl_expect_base(fd, 0, 0, "base");
}

/* SET_VRING_KICK/CALL/ERR and SET_LOG_FD resolve the fd in the caller's
 * table: EBADF when nothing is there, EINVAL when it is not an eventfd. */
static void s7_eventfds(int fd)
{
	static const unsigned long cmds[] = { USV_VHOST_SET_VRING_KICK,
					      USV_VHOST_SET_VRING_CALL,
					      USV_VHOST_SET_VRING_ERR };
	int pipefd[2] = { -1, -1 };
	int efd = cl_eventfd(), closed = cl_closed_fd();
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int v;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		cl_setup_fail("pipe");
		goto out;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct usv_vhost_vring_file f = { .index = 1 };
		char nb[32];
		const char *n = cl_ioctl_name(cmds[i], nb, sizeof(nb));

		f.fd = closed;
		cl_ioctl(fd, cmds[i], &f, EBADF, "%s closed fd %d", n, closed);
		f.fd = -2;
		cl_ioctl(fd, cmds[i], &f, EBADF, "%s fd -2", n);
		f.fd = pipefd[0];
		cl_ioctl(fd, cmds[i], &f, EINVAL, "%s pipe", n);
		f.fd = devnull;
		cl_ioctl(fd, cmds[i], &f, EINVAL, "%s /dev/null", n);
		f.fd = efd;
		cl_ioctl(fd, cmds[i], &f, 0, "%s eventfd", n);
		f.fd = -1;
		cl_ioctl(fd, cmds[i], &f, 0, "%s -1 (unbind)", n);
		cl_ioctl(fd, cmds[i], &f, 0, "%s -1 again", n);
	}
	v = closed;
	cl_ioctl(fd, USV_VHOST_SET_LOG_FD, &v, EBADF, "SET_LOG_FD closed fd");
	v = pipefd[1];
	cl_ioctl(fd, USV_VHOST_SET_LOG_FD, &v, EINVAL, "SET_LOG_FD pipe");
	v = efd;
	cl_ioctl(fd, USV_VHOST_SET_LOG_FD, &v, 0, "SET_LOG_FD eventfd");
	v = -1;
	cl_ioctl(fd, USV_VHOST_SET_LOG_FD, &v, 0, "SET_LOG_FD -1");
out:
	cl_close(&pipefd[0]);
	cl_close(&pipefd[1]);
	cl_close(&devnull);
	cl_close(&efd);
}

static void s7_backend(struct cl_ram *ram, int tap)
{
	const char *t = "backend";
	struct cl_ring r[USV_NET_NVQS];
	struct usv_vhost_memory *bad = cl_ram_table(ram);
	int pipefd[2] = { -1, -1 };
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int efd = cl_eventfd();
	int fd = open_dev(t);

	if (fd < 0 || !bad || udp < 0 || efd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		cl_setup_fail("backend scenario set-up");
		goto out;
	}
	cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, 0, "%s", t);
	cl_set_features(fd, CL_QEMU_FEATURES, 0, t);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		cl_ring_place(ram, vq, 3, &r[vq]);
		cl_ring_prepare(&r[vq], 0, 0);
		cl_setup_ring(fd, vq, &r[vq], 0, -1, t);
	}
	/* vq_memory_access_ok() is false while there is no table at all. */
	cl_attach(fd, 0, tap, EFAULT, t, "tap before SET_MEM_TABLE");
	cl_attach(fd, 0, -1, EFAULT, t, "-1 before SET_MEM_TABLE");
	cl_set_mem_table(fd, ram, t);
	/* A refused table leaves the old one whole: were its first region (at
	 * a kernel address) taken, the attaches below would fail. */
	bad->regions[0].userspace_addr = KERNEL_ADDR;
	bad->regions[1].memory_size = 0;
	cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, bad, EFAULT,
		 "%s: table whose second region is empty", t);

	cl_attach(fd, 0, pipefd[0], ENOTSOCK, t, "pipe");
	cl_attach(fd, 0, cl_closed_fd(), ENOTSOCK, t, "closed fd");
	cl_attach(fd, 0, -2, ENOTSOCK, t, "fd -2");
	cl_attach(fd, 0, udp, ENOTSOCK, t, "UDP socket");
	cl_attach(fd, 0, efd, ENOTSOCK, t, "eventfd");

	attach_and_see_flags(fd, 0, &r[0], tap, t);
	attach_and_see_flags(fd, 1, &r[1], tap, t);
	cl_set_num(fd, 0, CL_RING_NUM, EBUSY, "attached");
	cl_set_num(fd, 1, CL_RING_NUM, EBUSY, "attached");
	cl_set_base(fd, 0, 1, EBUSY, "attached");
	cl_expect_base(fd, 0, 0, "attached (GET is allowed)");
	/* A failed switch leaves the ring running on the old backend. */
	cl_attach(fd, 0, pipefd[1], ENOTSOCK, t, "pipe while attached");
	cl_set_num(fd, 0, CL_RING_NUM, EBUSY, "still attached");
	cl_attach(fd, 0, tap, 0, t, "the same tap again");
	cl_attach(fd, 0, -1, 0, t, "-1");
	cl_attach(fd, 0, -1, 0, t, "-1 again");
	cl_set_num(fd, 0, CL_RING_NUM, 0, "detached");
	cl_set_base(fd, 0, 0, 0, "detached");
	cl_set_num(fd, 1, CL_RING_NUM, EBUSY, "vq 1 still attached");
	cl_attach(fd, 1, -1, 0, t, "-1");
	cl_set_num(fd, 1, CL_RING_NUM, 0, "vq 1 detached");
out:
	if (fd >= 0)
		close(fd);
	free(bad);
	cl_close(&pipefd[0]);
	cl_close(&pipefd[1]);
	cl_close(&udp);
	cl_close(&efd);
}

static void s7_misc(int fd)
{
	struct usv_vhost_vring_state s = { .index = 0, .num = 0 };
	uint8_t *pg = page_before_hole();
	uint32_t idx;

	/* No cross-endian support: the kernel's stubs say ENOIOCTLCMD. */
	cl_ioctl(fd, USV_VHOST_SET_VRING_ENDIAN, &s, ENOTTY, "endian");
	cl_ioctl(fd, USV_VHOST_GET_VRING_ENDIAN, &s, ENOTTY, "endian");

	/* GET is declared _IOW yet writes the state back. */
	s.index = 1;
	s.num = 50;
	cl_ioctl(fd, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s, 0, "busyloop vq 1 50");
	s.num = 0xdeadbeef;
	if (cl_ioctl(fd, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s, 0, "busyloop vq 1"))
		cl_check(s.index == 1 && s.num == 50,
			 "GET_VRING_BUSYLOOP_TIMEOUT vq 1 gave {%u, %u}, expected {1, 50}",
			 s.index, s.num);
	s.index = 0;
	s.num = 0xdeadbeef;
	if (cl_ioctl(fd, USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s, 0, "busyloop vq 0"))
		cl_check(s.index == 0 && s.num == 0,
			 "GET_VRING_BUSYLOOP_TIMEOUT vq 0 gave {%u, %u}, expected {0, 0}",
			 s.index, s.num);

	/* Unknown numbers fall into vhost_vring_ioctl(): u32 index, then
	 * ENOIOCTLCMD, which the VFS turns into ENOTTY. */
	idx = 0;
	cl_ioctl(fd, UNKNOWN_IOCTL, &idx, ENOTTY, "unknown ioctl, u32 0 at arg");
	idx = 1;
	cl_ioctl(fd, UNKNOWN_IOCTL, &idx, ENOTTY, "unknown ioctl, u32 1 at arg");
	idx = 5;
	cl_ioctl(fd, UNKNOWN_IOCTL, &idx, ENOBUFS, "unknown ioctl, u32 5 at arg");
	idx = 0;
	cl_ioctl(fd, USV_VHOST_NEW_WORKER, &idx, ENOTTY,
		 "NEW_WORKER (vhost-scsi only), u32 0 at arg");
	if (pg) {
		cl_ioctl(fd, UNKNOWN_IOCTL, pg + PAGE, EFAULT,
			 "unknown ioctl, arg unmapped");
		cl_ioctl(fd, UNKNOWN_IOCTL, pg + PAGE - 2, EFAULT,
			 "unknown ioctl, u32 straddling into unmapped memory");
		munmap(pg, PAGE);
	}
}

/* A different process may own the device once RESET_OWNER dropped it; the
 * rings were reset with it. */
static int s7_new_owner(void *p)
{
	int fd = *(int *)p;

	cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, 0, "new owner: SET_OWNER");
	cl_expect_base(fd, 0, 0, "new owner");
	cl_expect_base(fd, 1, 0, "new owner");
	cl_set_num(fd, 0, CL_RING_NUM, 0, "new owner (rings stopped by reset)");
	return 0;
}

static void s7_reset_owner(struct cl_ram *ram)
{
	struct cl_dev d;

	if (!cl_dev_open(&d, dev_path, ram, "reset"))
		return;
	cl_qemu_init(&d);
	cl_qemu_start(&d, 42);
	cl_ioctl(d.fd, USV_VHOST_RESET_OWNER, NULL, 0, "RESET_OWNER by the owner");
	{
		struct usv_vhost_vring_state s = { .index = 0 };

		cl_ioctl(d.fd, USV_VHOST_GET_VRING_BASE, &s, EPERM,
			 "old owner after RESET_OWNER");
	}
	cl_reap(cl_spawn(s7_new_owner, &d.fd, "new owner"), 30000, "new owner");
	/* The exited child still owns it while the file stays open. */
	cl_ioctl(d.fd, USV_VHOST_SET_OWNER, NULL, EBUSY,
		 "SET_OWNER while an exited process owns it");
	cl_ioctl(d.fd, USV_VHOST_RESET_OWNER, NULL, EPERM,
		 "RESET_OWNER by a non-owner");
	cl_dev_close(&d);

	/* The owner itself can take it again; rings and memory are gone. */
	if (!cl_dev_open(&d, dev_path, ram, "reset 2"))
		return;
	cl_qemu_init(&d);
	cl_qemu_start(&d, 43);
	cl_ioctl(d.fd, USV_VHOST_RESET_OWNER, NULL, 0, "RESET_OWNER (attached)");
	cl_ioctl(d.fd, USV_VHOST_SET_OWNER, NULL, 0, "SET_OWNER again, same process");
	cl_expect_base(d.fd, 0, 0, "after reset");
	cl_expect_base(d.fd, 1, 0, "after reset");
	cl_set_num(d.fd, 0, CL_RING_NUM, 0, "after reset");
	cl_attach(d.fd, 0, d.tap, EFAULT, "after reset",
		  "tap (ring addresses were forgotten)");
	cl_dev_close(&d);
}

static void scenario_errors(void)
{
	struct cl_ram ram;
	struct cl_ring r;
	int tap = -1, fd = -1;
	uint64_t offered = 0;

	s7_before_owner();
	if (!cl_ram_init(&ram, CL_RAM_ANON_PRIV, 16 * MiB))
		return;
	tap = cl_tap_open();
	fd = open_dev("errors");
	if (fd < 0 || tap < 0)
		goto out;
	cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, 0, "errors: SET_OWNER");
	cl_ioctl(fd, USV_VHOST_GET_FEATURES, &offered, 0, "errors: GET_FEATURES");
	s7_features(fd, offered);
	s7_mem_table(fd, &ram);
	s7_vring_num_index(fd, tap);
	cl_ring_place(&ram, 0, 0, &r);
	s7_vring_addr_base(fd, &r);
	s7_eventfds(fd);
	s7_misc(fd);
	cl_close(&fd);
	s7_backend(&ram, tap);
	s7_reset_owner(&ram);
out:
	cl_close(&fd);
	cl_close(&tap);
	cl_ram_fini(&ram);
}

/* ---- scenario 8: where the kernel is lenient or strict on addresses ------ */

/* The kernel accesses rings as plain user addresses (access_ok, then
 * copy_to/from_user in the owner's mm); the memory table only translates
 * descriptor buffers. QEMU never relies on these corners, but a device that
 * claims the kernel's semantics answers them the same way. */
static void scenario_parity(void)
{
	const char *t = "parity";
	struct cl_ram ram;
	struct cl_dev d;
	struct usv_vhost_memory *m = NULL;
	uint8_t *pg;

	if (!cl_ram_init(&ram, CL_RAM_ANON_PRIV, 16 * MiB))
		return;
	if (!cl_dev_open(&d, dev_path, &ram, t))
		goto out_ram;
	cl_qemu_init(&d);
	cl_set_features(d.fd, CL_QEMU_FEATURES, 0, t);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		cl_ring_place(&ram, vq, 0, &d.ring[vq]);
		cl_ring_prepare(&d.ring[vq], 0, 0);
		cl_setup_ring(d.fd, vq, &d.ring[vq], 0, -1, t);
	}

	/* Only the low region in the table: vq 1's rings lie outside it. */
	m = cl_ram_table(&ram);
	if (!m)
		goto out;
	m->nregions = 1;
	cl_ioctl(d.fd, USV_VHOST_SET_MEM_TABLE, m, 0, "%s: table without vq 1's rings", t);
	attach_and_see_flags(d.fd, 1, &d.ring[1], d.tap, "rings outside the table");
	cl_attach(d.fd, 1, -1, 0, t, "-1");

	/* User addresses in the table are checked against running rings only. */
	m->regions[0].userspace_addr = KERNEL_ADDR;
	cl_ioctl(d.fd, USV_VHOST_SET_MEM_TABLE, m, 0,
		 "%s: region at a kernel address, rings stopped", t);
	cl_attach(d.fd, 0, d.tap, EFAULT, t, "tap with that table");
	cl_set_mem_table(d.fd, &ram, t);
	attach_and_see_flags(d.fd, 0, &d.ring[0], d.tap, t);
	cl_ioctl(d.fd, USV_VHOST_SET_MEM_TABLE, m, EFAULT,
		 "%s: region at a kernel address, ring running", t);
	/* SET_VRING_ADDR on a running ring checks the new addresses. */
	cl_set_addr(d.fd, 0, 0, KERNEL_ADDR, (uint64_t)(uintptr_t)d.ring[0].avail,
		    (uint64_t)(uintptr_t)d.ring[0].used, d.ring[0].gpa_used, EINVAL,
		    t, "desc at a kernel address, running");
	cl_set_ring_addr(d.fd, 0, &d.ring[0], 0, t, "same addresses, running");
	cl_attach(d.fd, 0, -1, 0, t, "-1");

	/* Stopped: addresses are taken as they are and checked at attach. */
	cl_set_addr(d.fd, 0, 0, KERNEL_ADDR, (uint64_t)(uintptr_t)d.ring[0].avail,
		    (uint64_t)(uintptr_t)d.ring[0].used, d.ring[0].gpa_used, 0, t,
		    "desc at a kernel address, stopped");
	cl_attach(d.fd, 0, d.tap, EFAULT, t, "tap with desc at a kernel address");
	cl_set_addr(d.fd, 0, 0, (uint64_t)(uintptr_t)d.ring[0].desc + 8,
		    (uint64_t)(uintptr_t)d.ring[0].avail,
		    (uint64_t)(uintptr_t)d.ring[0].used, d.ring[0].gpa_used, 0, t,
		    "desc 8-aligned (the kernel checks only avail and used)");

	/* Attach writes used->flags with the owner's protections: a read-only
	 * or unmapped used ring fails and the ring stays stopped. Each case
	 * starts detached, so one wrong answer cannot mask the next (attaching
	 * the same tap twice is a no-op that re-checks nothing). */
	pg = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	if (pg == MAP_FAILED) {
		cl_setup_fail("mmap");
		goto out;
	}
	for (int unmapped = 0; unmapped <= 1; unmapped++) {
		const char *what = unmapped ? "used ring unmapped" :
					      "used ring read-only";

		if (unmapped)
			munmap(pg, PAGE);
		else
			mprotect(pg, PAGE, PROT_READ);
		cl_attach(d.fd, 0, -1, 0, t, "-1 (start detached)");
		cl_set_addr(d.fd, 0, 0, (uint64_t)(uintptr_t)d.ring[0].desc,
			    (uint64_t)(uintptr_t)d.ring[0].avail, (uint64_t)(uintptr_t)pg,
			    d.ring[0].gpa_used, 0, t, what);
		cl_attach(d.fd, 0, d.tap, EFAULT, t, what);
		cl_set_num(d.fd, 0, CL_RING_NUM, 0, "after the failed attach (stopped)");
	}

	cl_attach(d.fd, 0, -1, 0, t, "-1 (start detached)");
	cl_set_ring_addr(d.fd, 0, &d.ring[0], 0, t, "valid again");
	attach_and_see_flags(d.fd, 0, &d.ring[0], d.tap, t);
	cl_attach(d.fd, 0, -1, 0, t, "-1");
out:
	free(m);
	cl_dev_close(&d);
out_ram:
	cl_ram_fini(&ram);
}

/* ---- driver -------------------------------------------------------------- */

static const struct scenario {
	const char *name;
	const char *title;
	void (*fn)(void);
} scenarios[] = {
	{ "qemu72-memfd", "QEMU 7.2 start/stop, memfd RAM", scenario_qemu72_memfd },
	{ "qemu72-anon", "QEMU 7.2 start/stop, anonymous private RAM",
	  scenario_qemu72_anon },
	{ "driver-reload", "driver reload: new rings, kicks and bases",
	  scenario_reload },
	{ "second-process", "a forked process gets EPERM, a thread passes",
	  scenario_second_process },
	{ "concurrent", "2 processes x 3 devices at once", scenario_concurrent },
	{ "abandoned", "a client exits with devices attached",
	  scenario_abandoned },
	{ "kernel-errors", "the errno values the kernel gives",
	  scenario_errors },
	{ "kernel-parity", "address checks where the kernel is lenient or strict",
	  scenario_parity },
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static int find_scenario(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s && !*end)
		return n >= 1 && (size_t)n <= N_SCENARIOS ? (int)n - 1 : -1;
	for (size_t i = 0; i < N_SCENARIOS; i++)
		if (!strcmp(s, scenarios[i].name))
			return (int)i;
	return -1;
}

static void usage(FILE *to)
{
	fprintf(to, "usage: qemu_client --dev=PATH [-v] [SCENARIO...]\n"
		    "       qemu_client --list\n");
}

int main(int argc, char **argv)
{
	bool run[N_SCENARIOS], any = false;
	unsigned passed = 0, failed = 0;
	const char *scale = getenv("USVHOST_TEST_TIMEOUT_SCALE");

	memset(run, 0, sizeof(run));
	if (scale && atoi(scale) > 0)
		cl_timeout_scale = (unsigned)atoi(scale);
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--dev=", 6)) {
			dev_path = argv[i] + 6;
		} else if (!strcmp(argv[i], "-v")) {
			cl_verbose = true;
		} else if (!strcmp(argv[i], "--list")) {
			for (size_t k = 0; k < N_SCENARIOS; k++)
				printf("%zu %s: %s\n", k + 1, scenarios[k].name,
				       scenarios[k].title);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			int k = find_scenario(argv[i]);

			if (k < 0) {
				fprintf(stderr, "qemu_client: no scenario '%s'\n",
					argv[i]);
				usage(stderr);
				return 2;
			}
			run[k] = any = true;
		}
	}
	if (!dev_path) {
		usage(stderr);
		return 2;
	}
	if (!any)
		memset(run, 1, sizeof(run));
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("SKIP: qemu_client needs root and /dev/net/tun for its taps\n");
		return 77;
	}
	if (access(dev_path, R_OK | W_OK) != 0) {
		printf("FAIL: cannot open %s: %s\n", dev_path, strerror(errno));
		return 1;
	}

	cl_print("# qemu_client against %s", dev_path);
	for (size_t k = 0; k < N_SCENARIOS; k++) {
		unsigned long f0, c0, nf, nc;

		if (!run[k])
			continue;
		scenario_detail[0] = '\0';
		f0 = cl_failures();
		c0 = cl_checks();
		cl_print("# %zu %s: %s", k + 1, scenarios[k].name,
			 scenarios[k].title);
		scenarios[k].fn();
		nf = cl_failures() - f0;
		nc = cl_checks() - c0;
		if (nf == 0) {
			passed++;
			cl_print("ok %zu %s (%lu checks%s%s)", k + 1,
				 scenarios[k].name, nc, scenario_detail[0] ? "; " : "",
				 scenario_detail);
		} else {
			failed++;
			cl_print("FAIL %zu %s (%lu of %lu checks failed%s%s)", k + 1,
				 scenarios[k].name, nf, nc,
				 scenario_detail[0] ? "; " : "", scenario_detail);
		}
	}
	cl_print("%u passed, %u failed", passed, failed);
	return failed ? 1 : 0;
}
