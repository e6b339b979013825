/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "client_lib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool cl_verbose;
unsigned cl_timeout_scale = 1;

static atomic_ulong n_checks, n_failures;
/* Checks made by reaped children, in memory every process of the run shares
 * (children exit with their failure count; their check count comes here). */
static atomic_ulong *child_checks;
/* Set in forked children so their lines say whose they are. */
static char line_prefix[64];

/* ---- output and checks --------------------------------------------------- */

static void write_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDOUT_FILENO, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

static void vprint_line(const char *lead, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vprint_line(const char *lead, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s%s", lead, line_prefix);

	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);

	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	write_all(line, len);
}

void cl_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint_line("", fmt, ap);
	va_end(ap);
}

static bool vcheck(bool ok, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static bool vcheck(bool ok, const char *fmt, va_list ap)
{
	atomic_fetch_add(&n_checks, 1);
	if (!ok) {
		atomic_fetch_add(&n_failures, 1);
		vprint_line("    FAIL: ", fmt, ap);
	} else if (cl_verbose) {
		vprint_line("    ok: ", fmt, ap);
	}
	return ok;
}

bool cl_check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(ok, fmt, ap);
	va_end(ap);
	return ok;
}

void cl_setup_fail(const char *fmt, ...)
{
	char what[512];
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cl_check(false, "set-up: %s: %s", what, strerror(err));
}

unsigned long cl_checks(void)
{
	return atomic_load(&n_checks) +
	       (child_checks ? atomic_load(child_checks) : 0);
}

unsigned long cl_failures(void)
{
	return atomic_load(&n_failures);
}

void cl_add_failures(unsigned long n)
{
	atomic_fetch_add(&n_failures, n);
}

void cl_add_checks(unsigned long n)
{
	atomic_fetch_add(&n_checks, n);
}

const char *cl_errname(int err, char *buf, size_t len)
{
	const char *name = err ? strerrorname_np(err) : "0";

	if (name)
		return name;
	snprintf(buf, len, "errno %d", err);
	return buf;
}

static const struct {
	unsigned long cmd;
	const char *name;
} ioctl_names[] = {
	{ USV_VHOST_GET_FEATURES, "GET_FEATURES" },
	{ USV_VHOST_SET_FEATURES, "SET_FEATURES" },
	{ USV_VHOST_SET_OWNER, "SET_OWNER" },
	{ USV_VHOST_RESET_OWNER, "RESET_OWNER" },
	{ USV_VHOST_SET_MEM_TABLE, "SET_MEM_TABLE" },
	{ USV_VHOST_SET_LOG_BASE, "SET_LOG_BASE" },
	{ USV_VHOST_SET_LOG_FD, "SET_LOG_FD" },
	{ USV_VHOST_SET_VRING_NUM, "SET_VRING_NUM" },
	{ USV_VHOST_SET_VRING_ADDR, "SET_VRING_ADDR" },
	{ USV_VHOST_SET_VRING_BASE, "SET_VRING_BASE" },
	{ USV_VHOST_GET_VRING_BASE, "GET_VRING_BASE" },
	{ USV_VHOST_SET_VRING_ENDIAN, "SET_VRING_ENDIAN" },
	{ USV_VHOST_GET_VRING_ENDIAN, "GET_VRING_ENDIAN" },
	{ USV_VHOST_SET_VRING_KICK, "SET_VRING_KICK" },
	{ USV_VHOST_SET_VRING_CALL, "SET_VRING_CALL" },
	{ USV_VHOST_SET_VRING_ERR, "SET_VRING_ERR" },
	{ USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, "SET_VRING_BUSYLOOP_TIMEOUT" },
	{ USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, "GET_VRING_BUSYLOOP_TIMEOUT" },
	{ USV_VHOST_SET_BACKEND_FEATURES, "SET_BACKEND_FEATURES" },
	{ USV_VHOST_GET_BACKEND_FEATURES, "GET_BACKEND_FEATURES" },
	{ USV_VHOST_NET_SET_BACKEND, "NET_SET_BACKEND" },
	{ USV_VHOST_GET_FEATURES_ARRAY, "GET_FEATURES_ARRAY" },
	{ USV_VHOST_SET_FEATURES_ARRAY, "SET_FEATURES_ARRAY" },
	{ USV_VHOST_NEW_WORKER, "NEW_WORKER" },
};

const char *cl_ioctl_name(unsigned long cmd, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(ioctl_names) / sizeof(ioctl_names[0]); i++)
		if (ioctl_names[i].cmd == cmd)
			return ioctl_names[i].name;
	snprintf(buf, len, "ioctl 0x%lx", cmd);
	return buf;
}

bool cl_ioctl(int fd, unsigned long cmd, void *arg, int want, const char *fmt,
	      ...)
{
	char label[512], nbuf[32], gbuf[48], wbuf[32];
	const char *got;
	va_list ap;
	int r, err;

	va_start(ap, fmt);
	vsnprintf(label, sizeof(label), fmt, ap);
	va_end(ap);

	errno = 0;
	r = ioctl(fd, cmd, arg);
	err = r < 0 ? errno : 0;
	if (r >= 0) {
		snprintf(gbuf, sizeof(gbuf), "%d", r);
		got = gbuf;
	} else {
		got = cl_errname(err, gbuf, sizeof(gbuf));
	}
	/* The kernel's vhost ioctls return exactly 0 on success. */
	return cl_check(want == 0 ? r == 0 : r == -1 && err == want,
			"%s: %s -> %s, expected %s", label,
			cl_ioctl_name(cmd, nbuf, sizeof(nbuf)), got,
			cl_errname(want, wbuf, sizeof(wbuf)));
}

/* ---- processes and threads ----------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

pid_t cl_spawn(int (*fn)(void *arg), void *arg, const char *what)
{
	pid_t pid, parent;

	if (!child_checks) {
		void *p = mmap(NULL, sizeof(*child_checks), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			cl_setup_fail("mmap shared counter");
			return -1;
		}
		child_checks = p;
	}
	parent = getpid();
	pid = fork();

	if (pid < 0) {
		cl_setup_fail("fork (%s)", what);
		return -1;
	}
	if (pid == 0) {
		unsigned long f;
		int r;

		/* Gone with its parent: a client killed on its timeout leaves
		 * no process of its own behind. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(100);
		atomic_store(&n_checks, 0);
		atomic_store(&n_failures, 0);
		snprintf(line_prefix, sizeof(line_prefix), "[%s, pid %d] ",
			 what, (int)getpid());
		r = fn(arg);
		atomic_fetch_add(child_checks, atomic_load(&n_checks));
		f = atomic_load(&n_failures);
		if (r != 0 && f == 0)
			f = 1;
		/* _exit: the parent's atexit handlers and stdio are not ours. */
		_exit(f > 100 ? 100 : (int)f);
	}
	return pid;
}

bool cl_reap(pid_t pid, unsigned timeout_ms, const char *what)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms * cl_timeout_scale;
	int status = 0;

	if (pid <= 0)
		return false;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			cl_setup_fail("waitpid (%s)", what);
			return false;
		}
		if (now_ms() > deadline) {
			/* A child inside a FUSE request the daemon has taken
			 * cannot die until the daemon answers or the connection
			 * is aborted: wait for it a little, never for ever. */
			uint64_t gone = now_ms() + 2000;

			kill(pid, SIGKILL);
			while ((r = waitpid(pid, &status, WNOHANG)) != pid &&
			       (r == 0 || errno == EINTR) && now_ms() < gone)
				usleep(1000);
			return cl_check(false, "%s: still running after %u ms: killed%s",
					what, timeout_ms * cl_timeout_scale,
					r == pid ? "" : ", but it is stuck in an "
					"uninterruptible wait (left behind)");
		}
		usleep(1000);
	}
	if (WIFSIGNALED(status))
		return cl_check(false, "%s: killed by signal %d", what,
				WTERMSIG(status));
	if (WEXITSTATUS(status) != 0) {
		/* The child printed its own failures; count them here. */
		cl_print("    (%s reported %d failed checks)", what,
			 WEXITSTATUS(status));
		cl_add_failures((unsigned long)WEXITSTATUS(status));
		return false;
	}
	return true;
}

void cl_join(pthread_t t, unsigned timeout_ms, const char *what)
{
	struct timespec ts;
	uint64_t ms = (uint64_t)timeout_ms * cl_timeout_scale;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	r = pthread_timedjoin_np(t, NULL, &ts);
	if (r != 0) {
		cl_print("FATAL: thread %s did not finish within %llu ms (%s): "
			 "the daemon is not answering; giving up",
			 what, (unsigned long long)ms, strerror(r));
		_exit(3);
	}
}

/* ---- file descriptors ---------------------------------------------------- */

int cl_eventfd(void)
{
	/* QEMU's event notifiers: non-blocking, close-on-exec. */
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		cl_setup_fail("eventfd");
	return fd;
}

int cl_closed_fd(void)
{
	/* High numbers stay free here; checking beats guessing. */
	for (int fd = 900; fd < 1000; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			return fd;
	errno = EMFILE;
	cl_setup_fail("no free descriptor number in 900..999");
	return 999;
}

void cl_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int cl_tap_open(void)
{
	struct ifreq ifr;
	int hdr = 12; /* sizeof(struct virtio_net_hdr_mrg_rxbuf) */
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		cl_setup_fail("open /dev/net/tun");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		cl_setup_fail("TUNSETIFF");
		close(fd);
		return -1;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		cl_setup_fail("TUNSETVNETHDRSZ 12");
		close(fd);
		return -1;
	}
	/* QEMU makes its tap fd non-blocking; the daemon shares that flag. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		cl_setup_fail("O_NONBLOCK on tap");
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- guest RAM and rings ------------------------------------------------- */

#define RING_SLOT 0x10000u      /* one ring generation: desc, avail, used */
#define RING_AREA (1u << 20)    /* rings start 1 MiB into each region */
#define RING_GENERATIONS 16u

bool cl_ram_init(struct cl_ram *ram, enum cl_ram_kind kind, size_t size)
{
	size_t half = size / 2;
	void *p;

	memset(ram, 0, sizeof(*ram));
	ram->memfd = -1;
	ram->kind = kind;
	ram->size = size;
	if (half < RING_AREA + RING_GENERATIONS * RING_SLOT || half % 4096) {
		errno = EINVAL;
		cl_setup_fail("guest RAM of %zu bytes is too small", size);
		return false;
	}
	if (kind == CL_RAM_MEMFD || kind == CL_RAM_MEMFD_UNSEALED) {
		/* Sealed as QEMU's memory-backend-memfd seals by default: the
		 * daemon maps only RAM that cannot shrink under it. */
		bool seal = kind == CL_RAM_MEMFD;

		ram->memfd = memfd_create("usvhost-test-ram",
					  MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0));
		if (ram->memfd < 0 || ftruncate(ram->memfd, (off_t)size) < 0 ||
		    (seal && fcntl(ram->memfd, F_ADD_SEALS,
				   F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)) {
			cl_setup_fail("memfd of %zu bytes%s", size, seal ? ", sealed" : "");
			cl_close(&ram->memfd);
			return false;
		}
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 ram->memfd, 0);
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (p == MAP_FAILED) {
		cl_setup_fail("mmap guest RAM");
		cl_close(&ram->memfd);
		return false;
	}
	ram->base = p;
	ram->nregions = 2;
	ram->reg[0].gpa = 0;
	ram->reg[0].size = half;
	ram->reg[0].off = 0;
	ram->reg[1].gpa = CL_HIGH_GPA;
	ram->reg[1].size = size - half;
	ram->reg[1].off = half;
	return true;
}

void cl_ram_fini(struct cl_ram *ram)
{
	if (ram->base)
		munmap(ram->base, ram->size);
	ram->base = NULL;
	cl_close(&ram->memfd);
}

uint64_t cl_ram_gpa(const struct cl_ram *ram, size_t off)
{
	for (unsigned i = 0; i < ram->nregions; i++)
		if (off >= ram->reg[i].off &&
		    off - ram->reg[i].off < ram->reg[i].size)
			return ram->reg[i].gpa + (off - ram->reg[i].off);
	return UINT64_MAX;
}

struct usv_vhost_memory *cl_ram_table(const struct cl_ram *ram)
{
	struct usv_vhost_memory *m =
		calloc(1, sizeof(*m) + ram->nregions * sizeof(m->regions[0]));

	if (!m) {
		cl_setup_fail("calloc memory table");
		return NULL;
	}
	m->nregions = ram->nregions;
	for (unsigned i = 0; i < ram->nregions; i++) {
		m->regions[i].guest_phys_addr = ram->reg[i].gpa;
		m->regions[i].memory_size = ram->reg[i].size;
		m->regions[i].userspace_addr =
			(uint64_t)(uintptr_t)(ram->base + ram->reg[i].off);
	}
	return m;
}

void cl_ring_place(const struct cl_ram *ram, unsigned vq, unsigned gen,
		   struct cl_ring *r)
{
	size_t off = ram->reg[vq % ram->nregions].off + RING_AREA +
		     (size_t)(gen % RING_GENERATIONS) * RING_SLOT;

	/* Legacy-style layout: each part page-aligned, sizes for num 256
	 * (desc 4096, avail 518, used 2054 bytes with the event fields). */
	r->desc = ram->base + off;
	r->avail = (struct cl_vring_avail *)(ram->base + off + 0x1000);
	r->used = (struct cl_vring_used *)(ram->base + off + 0x2000);
	r->gpa_used = cl_ram_gpa(ram, off + 0x2000);
}

void cl_ring_prepare(struct cl_ring *r, uint16_t base, uint16_t used_idx)
{
	memset(r->desc, 0, 0x3000);
	__atomic_store_n(&r->avail->idx, base, __ATOMIC_RELEASE);
	__atomic_store_n(&r->used->idx, used_idx, __ATOMIC_RELEASE);
	__atomic_store_n(&r->used->flags, (uint16_t)0xffff, __ATOMIC_RELEASE);
}

uint16_t cl_load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* ---- one QEMU-driven device ---------------------------------------------- */

bool cl_dev_open(struct cl_dev *d, const char *path, struct cl_ram *ram,
		 const char *tag)
{
	memset(d, 0, sizeof(*d));
	d->tag = tag;
	d->ram = ram;
	d->fd = d->tap = -1;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		d->init_call[vq] = d->init_err[vq] = d->call[vq] =
			d->kick[vq] = -1;
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		cl_setup_fail("%s: open %s", tag, path);
		return false;
	}
	d->tap = cl_tap_open();
	if (d->tap < 0) {
		cl_close(&d->fd);
		return false;
	}
	return true;
}

void cl_dev_close(struct cl_dev *d)
{
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		cl_close(&d->init_call[vq]);
		cl_close(&d->init_err[vq]);
		cl_close(&d->call[vq]);
		cl_close(&d->kick[vq]);
	}
	cl_close(&d->tap);
	cl_close(&d->fd);
}

bool cl_set_features(int fd, uint64_t f, int want, const char *tag)
{
	return cl_ioctl(fd, USV_VHOST_SET_FEATURES, &f, want,
			"%s: SET_FEATURES 0x%llx", tag, (unsigned long long)f);
}

bool cl_set_mem_table(int fd, const struct cl_ram *ram, const char *tag)
{
	struct usv_vhost_memory *m = cl_ram_table(ram);
	bool ok;

	if (!m)
		return false;
	ok = cl_ioctl(fd, USV_VHOST_SET_MEM_TABLE, m, 0,
		      "%s: SET_MEM_TABLE (%u regions, as QEMU)", tag, m->nregions);
	free(m);
	return ok;
}

bool cl_set_num(int fd, unsigned vq, uint32_t num, int want, const char *tag)
{
	struct usv_vhost_vring_state s = { .index = vq, .num = num };

	return cl_ioctl(fd, USV_VHOST_SET_VRING_NUM, &s, want,
			"%s: SET_VRING_NUM vq %u num %u", tag, vq, num);
}

bool cl_set_base(int fd, unsigned vq, uint32_t num, int want, const char *tag)
{
	struct usv_vhost_vring_state s = { .index = vq, .num = num };

	return cl_ioctl(fd, USV_VHOST_SET_VRING_BASE, &s, want,
			"%s: SET_VRING_BASE vq %u num 0x%x", tag, vq, num);
}

bool cl_set_addr(int fd, unsigned vq, uint32_t flags, uint64_t desc,
		 uint64_t avail, uint64_t used, uint64_t log, int want,
		 const char *tag, const char *what)
{
	struct usv_vhost_vring_addr a = {
		.index = vq,
		.flags = flags,
		.desc_user_addr = desc,
		.used_user_addr = used,
		.avail_user_addr = avail,
		.log_guest_addr = log,
	};

	return cl_ioctl(fd, USV_VHOST_SET_VRING_ADDR, &a, want,
			"%s: SET_VRING_ADDR vq %u %s", tag, vq, what);
}

bool cl_set_ring_addr(int fd, unsigned vq, const struct cl_ring *r, int want,
		      const char *tag, const char *what)
{
	/* QEMU sets the log flag only while migrating. */
	return cl_set_addr(fd, vq, 0, (uint64_t)(uintptr_t)r->desc,
			   (uint64_t)(uintptr_t)r->avail,
			   (uint64_t)(uintptr_t)r->used, r->gpa_used, want, tag,
			   what);
}

bool cl_vring_file(int fd, unsigned long cmd, unsigned vq, int efd, int want,
		   const char *tag)
{
	struct usv_vhost_vring_file f = { .index = vq, .fd = efd };
	char nbuf[32];

	return cl_ioctl(fd, cmd, &f, want, "%s: %s vq %u fd %d", tag,
			cl_ioctl_name(cmd, nbuf, sizeof(nbuf)), vq, efd);
}

bool cl_attach(int fd, unsigned vq, int backend, int want, const char *tag,
	       const char *what)
{
	struct usv_vhost_vring_file b = { .index = vq, .fd = backend };

	return cl_ioctl(fd, USV_VHOST_NET_SET_BACKEND, &b, want,
			"%s: NET_SET_BACKEND vq %u %s", tag, vq, what);
}

bool cl_qemu_init(struct cl_dev *d)
{
	const uint64_t need = USV_BIT(USV_F_NET_MRG_RXBUF) |
			      USV_BIT(USV_F_NOTIFY_ON_EMPTY) | USV_BIT(USV_F_LOG_ALL) |
			      USV_BIT(USV_F_ANY_LAYOUT) |
			      USV_BIT(USV_F_RING_INDIRECT_DESC) |
			      USV_BIT(USV_F_RING_EVENT_IDX) | USV_BIT(USV_F_VERSION_1);
	uint64_t f = 0;
	bool ok = true;

	ok &= cl_ioctl(d->fd, USV_VHOST_SET_OWNER, NULL, 0, "%s: SET_OWNER",
		       d->tag);
	ok &= cl_ioctl(d->fd, USV_VHOST_GET_FEATURES, &f, 0, "%s: GET_FEATURES",
		       d->tag);
	d->offered = f;
	ok &= cl_check((f & need) == need,
		       "%s: GET_FEATURES 0x%llx lacks bits 0x%llx", d->tag,
		       (unsigned long long)f, (unsigned long long)(need & ~f));
	/* The kernel's vhost-net never offers the packed ring; usvhostd's
	 * default profile does, and a packed ring is virtio 1.1+. */
	ok &= cl_check(!(f & USV_BIT(USV_F_RING_PACKED)) || (f & USV_BIT(USV_F_VERSION_1)),
		       "%s: GET_FEATURES 0x%llx offers RING_PACKED without VERSION_1",
		       d->tag, (unsigned long long)f);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		d->init_call[vq] = cl_eventfd();
		d->init_err[vq] = cl_eventfd();
		if (d->init_call[vq] < 0 || d->init_err[vq] < 0)
			return false;
		ok &= cl_vring_file(d->fd, USV_VHOST_SET_VRING_CALL, vq,
				    d->init_call[vq], 0, d->tag);
		ok &= cl_vring_file(d->fd, USV_VHOST_SET_VRING_ERR, vq,
				    d->init_err[vq], 0, d->tag);
	}
	return ok;
}

bool cl_setup_ring(int fd, unsigned vq, const struct cl_ring *r, uint16_t base,
		   int kick, const char *tag)
{
	bool ok = true;

	ok &= cl_set_num(fd, vq, CL_RING_NUM, 0, tag);
	ok &= cl_set_base(fd, vq, base, 0, tag);
	ok &= cl_set_ring_addr(fd, vq, r, 0, tag, "in guest RAM");
	if (kick >= 0)
		ok &= cl_vring_file(fd, USV_VHOST_SET_VRING_KICK, vq, kick, 0, tag);
	return ok;
}

bool cl_qemu_start(struct cl_dev *d, uint16_t base)
{
	uint64_t bf = 0;
	unsigned gen = d->gen++;
	bool ok = true;

	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		cl_close(&d->call[vq]);
		d->call[vq] = cl_eventfd();
		if (d->call[vq] < 0)
			return false;
		ok &= cl_vring_file(d->fd, USV_VHOST_SET_VRING_CALL, vq,
				    d->call[vq], 0, d->tag);
	}
	ok &= cl_set_features(d->fd, CL_QEMU_FEATURES, 0, d->tag);
	ok &= cl_ioctl(d->fd, USV_VHOST_GET_BACKEND_FEATURES, &bf, 0,
		       "%s: GET_BACKEND_FEATURES", d->tag);
	ok &= cl_check(bf == CL_BACKEND_FEATURES,
		       "%s: GET_BACKEND_FEATURES = 0x%llx, expected 0x%llx",
		       d->tag, (unsigned long long)bf,
		       (unsigned long long)CL_BACKEND_FEATURES);
	bf = CL_BACKEND_FEATURES;
	ok &= cl_ioctl(d->fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, 0,
		       "%s: SET_BACKEND_FEATURES 0x%llx", d->tag,
		       (unsigned long long)bf);
	ok &= cl_set_mem_table(d->fd, d->ram, d->tag);

	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		int kick = cl_eventfd();

		if (kick < 0)
			return false;
		cl_ring_place(d->ram, vq, gen, &d->ring[vq]);
		cl_ring_prepare(&d->ring[vq], base, 7);
		d->base[vq] = base;
		ok &= cl_setup_ring(d->fd, vq, &d->ring[vq], base, kick, d->tag);
		/* The device holds its own reference now: drop the old one. */
		cl_close(&d->kick[vq]);
		d->kick[vq] = kick;
	}
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		ok &= cl_attach(d->fd, vq, d->tap, 0, d->tag, "tap");
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		struct cl_ring *r = &d->ring[vq];
		uint16_t v;

		/* The kernel writes its used_flags (0: with EVENT_IDX it never
		 * sets NO_NOTIFY) at attach and only reads used->idx. */
		v = cl_load16(&r->used->flags);
		ok &= cl_check(v == 0,
			       "%s: vq %u used->flags = 0x%x after attach, expected 0",
			       d->tag, vq, v);
		v = cl_load16(&r->used->idx);
		ok &= cl_check(v == 7,
			       "%s: vq %u used->idx = %u after attach, expected 7 "
			       "(untouched)", d->tag, vq, v);
		v = cl_load16(&r->avail->idx);
		ok &= cl_check(v == base,
			       "%s: vq %u avail->idx = %u, expected %u (the device "
			       "never writes the avail ring)", d->tag, vq, v, base);
	}
	return ok;
}

bool cl_expect_base(int fd, unsigned vq, uint32_t want, const char *tag)
{
	struct usv_vhost_vring_state s = { .index = vq, .num = 0xdeadbeef };

	if (!cl_ioctl(fd, USV_VHOST_GET_VRING_BASE, &s, 0,
		      "%s: GET_VRING_BASE vq %u", tag, vq))
		return false;
	return cl_check(s.index == vq && s.num == want,
			"%s: GET_VRING_BASE vq %u answered {index %u, num %u}, "
			"expected {%u, %u}", tag, vq, s.index, s.num, vq, want);
}

bool cl_qemu_stop(struct cl_dev *d)
{
	bool ok = true;

	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		ok &= cl_attach(d->fd, vq, -1, 0, d->tag, "-1");
	/* No packet moved, so last_avail_idx is still the base we set. */
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
		ok &= cl_expect_base(d->fd, vq, d->base[vq], d->tag);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		ok &= cl_vring_file(d->fd, USV_VHOST_SET_VRING_CALL, vq,
				    d->init_call[vq], 0, d->tag);
		cl_close(&d->call[vq]);
	}
	return ok;
}
