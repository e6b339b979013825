/* SPDX-License-Identifier: MIT */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"

/* ---- the caller's memory ------------------------------------------------ */

static int ufake_check(const struct ufake *u, uint64_t addr, size_t len)
{
	uint64_t off;

	if (len == 0)
		return 0; /* copying nothing never faults */
	if (addr < UFAKE_BASE)
		return -EFAULT;
	off = addr - UFAKE_BASE;
	if (off >= UFAKE_SIZE || len > UFAKE_SIZE - off)
		return -EFAULT;
	if (off + len > u->reachable)
		return -USV_ERETRY;
	return 0;
}

static int ufake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct ufake *u = ctx;
	int ret = ufake_check(u, addr, len);

	if (ret == 0 && len)
		memcpy(buf, u->buf + (addr - UFAKE_BASE), len);
	return ret;
}

static int ufake_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	struct ufake *u = ctx;
	int ret = ufake_check(u, addr, len);

	if (ret == 0 && len)
		memcpy(u->buf + (addr - UFAKE_BASE), buf, len);
	return ret;
}

const struct usv_uaccess ufake_ops = {
	.read = ufake_read,
	.write = ufake_write,
};

/* ---- a datapath that records ------------------------------------------- */

/* Records a call as it saw the ring: from the snapshot the core handed over
 * (start, update), else from the device. */
static void dp_record(struct fake_dp *dp, enum dp_kind kind, struct usv_dev *dev,
		      unsigned idx, unsigned what, const struct usv_ring_config *cfg)
{
	struct usv_ring_config now;
	struct dp_event *ev;

	if (dp->n >= DP_MAX_EVENTS)
		return;
	if (!cfg) {
		usv_dev_ring_config(dev, idx, &now);
		cfg = &now;
	}
	ev = &dp->ev[dp->n++];
	ev->kind = kind;
	ev->idx = idx;
	ev->what = what;
	ev->watch_open = dp->watch_fd >= 0 && fd_is_open(dp->watch_fd);
	ev->backend_fd = cfg->backend_fd;
	ev->kick_fd = cfg->kick_fd;
	ev->call_fd = cfg->call_fd;
	ev->err_fd = cfg->err_fd;
	ev->log_fd = cfg->log_fd;
	ev->mem_nregions = cfg->mem ? cfg->mem->nregions : UINT32_MAX;
	ev->last_used_idx = cfg->base.last_used_idx;
	ev->last_avail_idx = cfg->base.last_avail_idx;
}

static int dp_start(void *ctx, struct usv_dev *dev, const struct usv_ring_config *cfg)
{
	struct fake_dp *dp = ctx;
	int ret = dp->fail_next_start;

	dp_record(dp, DP_START, dev, cfg->index, 0, cfg);
	dp->fail_next_start = 0;
	return ret;
}

static void dp_stop(void *ctx, struct usv_dev *dev, unsigned idx, struct usv_ring_base *base)
{
	(void)base;
	dp_record(ctx, DP_STOP, dev, idx, 0, NULL);
}

static void dp_update(void *ctx, struct usv_dev *dev, unsigned what,
		      const struct usv_ring_config *cfg)
{
	dp_record(ctx, DP_UPDATE, dev, cfg->index, what, cfg);
}

static void dp_sync(void *ctx, struct usv_dev *dev, unsigned idx, struct usv_ring_base *base)
{
	struct fake_dp *dp = ctx;

	dp_record(dp, DP_SYNC, dev, idx, 0, NULL);
	if (dp->sync_avail >= 0)
		base->last_avail_idx = (uint16_t)dp->sync_avail;
}

static void dp_dev_free(void *ctx, struct usv_dev *dev)
{
	dp_record(ctx, DP_FREE, dev, 0, 0, NULL);
}

const struct usv_datapath_ops fake_dp_ops = {
	.ring_start = dp_start,
	.ring_stop = dp_stop,
	.ring_update = dp_update,
	.ring_sync = dp_sync,
	.dev_free = dp_dev_free,
};

void fake_dp_clear(struct fake_dp *dp)
{
	memset(dp->ev, 0, sizeof(dp->ev));
	dp->n = 0;
	dp->watch_fd = -1;
}

/* ---- processes and fds --------------------------------------------------- */

int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

int closed_fd_number(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

int open_packet_socket(char *why, size_t n)
{
	/* Protocol 0: the socket receives nothing, no traffic is involved. */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		snprintf(why, n, "AF_PACKET raw socket: %s (needs CAP_NET_RAW)",
			 strerror(errno));
	return fd;
}

int open_tun(char *why, size_t n)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		snprintf(why, n, "/dev/net/tun: %s", strerror(errno));
	return fd;
}

int open_backend(char *why, size_t n)
{
	char a[128], b[128];
	int fd = open_packet_socket(a, sizeof(a));

	if (fd >= 0)
		return fd;
	fd = open_tun(b, sizeof(b));
	if (fd < 0)
		snprintf(why, n, "no backend NET_SET_BACKEND accepts: %s; %s", a, b);
	return fd;
}

void child_start(struct unit_child *c)
{
	int cmd[2], rep[2];

	assert_int_equal(pipe2(cmd, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t a = (uintptr_t)page;
		char what = 0;

		close(cmd[1]);
		close(rep[0]);
		if (page == MAP_FAILED)
			_exit(2);
		page[0] = 0xab;
		if (write(rep[1], &a, sizeof(a)) != sizeof(a) ||
		    read(cmd[0], &what, 1) != 1)
			_exit(3);
		if (what == 'e')
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(0); /* rep[1] closes: EOF for the parent */
	}
	close(cmd[0]);
	close(rep[1]);
	c->cmd = cmd[1];
	c->done = rep[0];
	assert_int_equal(read(c->done, &c->addr, sizeof(c->addr)), (ssize_t)sizeof(c->addr));
}

void child_go(struct unit_child *c, char what)
{
	char b;

	assert_int_equal(write(c->cmd, &what, 1), 1);
	/* The reply pipe is O_CLOEXEC: EOF once exec or exit is done. */
	assert_int_equal(read(c->done, &b, 1), 0);
}

void child_end(struct unit_child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->cmd);
	close(c->done);
}

void unit_log_setup(void)
{
	const char *s = getenv("USV_TEST_LOG");
	enum usv_log_level level = USV_LOG_ERR;

	if (s)
		usv_log_parse_level(s, &level);
	usv_log_setup(level, false);
}

/* ---- one device on a list ---------------------------------------------- */

int env_setup_profile(void **state, const struct usv_profile *profile)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	unit_log_setup();
	e->fds_at_start = count_open_fds();
	e->dp.watch_fd = -1;
	e->dp.sync_avail = -1;
	e->u.reachable = UFAKE_SIZE;
	e->owner.tid = e->owner.tgid = getpid();
	/* Another process: our parent (or init when orphaned). Never made an
	 * owner by the tests, so nothing is ever opened for it. */
	e->other.tid = e->other.tgid = getppid() > 1 ? getppid() : 1;
	e->guest = mmap(NULL, ENV_GUEST_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->guest == MAP_FAILED ||
	    usv_devlist_init(&e->list, profile, &fake_dp_ops, &e->dp) ||
	    usv_devlist_add(&e->list, &e->handle))
		return -1;
	e->dev = usv_devlist_get(&e->list, e->handle);
	*state = e;
	return e->dev ? 0 : -1;
}

int env_setup(void **state)
{
	return env_setup_profile(state, usv_profile_default());
}

int env_teardown(void **state)
{
	struct env *e = *state;
	int now;

	for (unsigned i = 0; i < e->nfds; i++)
		close(e->fds[i]);
	usv_devlist_destroy(&e->list);
	munmap(e->guest, ENV_GUEST_SIZE);
	now = count_open_fds();
	if (now != e->fds_at_start) {
		print_error("fd leak: %d open fds before the test, %d after\n",
			    e->fds_at_start, now);
		free(e);
		return -1;
	}
	free(e);
	return 0;
}

int env_keep(struct env *e, int fd)
{
	assert_true(fd >= 0);
	assert_true(e->nfds < ENV_MAX_FDS);
	e->fds[e->nfds++] = fd;
	return fd;
}

int env_eventfd(struct env *e)
{
	return env_keep(e, eventfd(0, EFD_CLOEXEC));
}

int env_pipe(struct env *e)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	env_keep(e, p[1]);
	return env_keep(e, p[0]);
}

int env_ioctl_at(struct env *e, const struct usv_caller *who, uint32_t cmd,
		 uint64_t arg)
{
	struct usv_req req;

	usv_req_init(&req, cmd, arg, who, &ufake_ops, &e->u);
	return usv_ioctl_dispatch(e->dev, &req);
}

int env_ioctl(struct env *e, const struct usv_caller *who, uint32_t cmd,
	      const void *in, size_t len)
{
	assert_true(len <= UFAKE_SIZE);
	if (len)
		memcpy(e->u.buf, in, len);
	return env_ioctl_at(e, who, cmd, UFAKE_BASE);
}

int env_state(struct env *e, const struct usv_caller *who, uint32_t cmd,
	      uint32_t index, uint32_t num)
{
	struct usv_vhost_vring_state s = { .index = index, .num = num };

	return env_ioctl(e, who, cmd, &s, sizeof(s));
}

int env_file(struct env *e, const struct usv_caller *who, uint32_t cmd,
	     uint32_t index, int fd)
{
	struct usv_vhost_vring_file f = { .index = index, .fd = fd };

	return env_ioctl(e, who, cmd, &f, sizeof(f));
}

int env_u64(struct env *e, const struct usv_caller *who, uint32_t cmd,
	    uint64_t v)
{
	return env_ioctl(e, who, cmd, &v, sizeof(v));
}

struct usv_vhost_vring_state env_out_state(const struct env *e)
{
	struct usv_vhost_vring_state s;

	memcpy(&s, e->u.buf, sizeof(s));
	return s;
}

uint64_t env_out_u64(const struct env *e, size_t off)
{
	uint64_t v;

	memcpy(&v, e->u.buf + off, sizeof(v));
	return v;
}

int env_set_owner(struct env *e)
{
	return env_ioctl_at(e, &e->owner, USV_VHOST_SET_OWNER, 0);
}

int env_mem_table(struct env *e, const struct usv_vhost_memory_region *r,
		  uint32_t n)
{
	struct usv_vhost_memory hdr = { .nregions = n };

	assert_true(sizeof(hdr) + n * sizeof(*r) <= UFAKE_SIZE);
	memcpy(e->u.buf, &hdr, sizeof(hdr));
	if (n)
		memcpy(e->u.buf + sizeof(hdr), r, n * sizeof(*r));
	return env_ioctl_at(e, &e->owner, USV_VHOST_SET_MEM_TABLE, UFAKE_BASE);
}

int env_mem_guest(struct env *e)
{
	struct usv_vhost_memory_region r = {
		.guest_phys_addr = 0,
		.memory_size = ENV_GUEST_SIZE,
		.userspace_addr = (uintptr_t)e->guest,
	};

	return env_mem_table(e, &r, 1);
}

int env_vring_addr(struct env *e, uint32_t index, uint32_t flags, uint64_t desc,
		   uint64_t used, uint64_t avail, uint64_t log)
{
	struct usv_vhost_vring_addr a = {
		.index = index,
		.flags = flags,
		.desc_user_addr = desc,
		.used_user_addr = used,
		.avail_user_addr = avail,
		.log_guest_addr = log,
	};

	return env_ioctl(e, &e->owner, USV_VHOST_SET_VRING_ADDR, &a, sizeof(a));
}

uint64_t env_ring_desc(const struct env *e, unsigned idx)
{
	return (uintptr_t)e->guest + idx * 0x8000u;
}

uint64_t env_ring_avail(const struct env *e, unsigned idx)
{
	return env_ring_desc(e, idx) + 0x1000;
}

uint64_t env_ring_used(const struct env *e, unsigned idx)
{
	return env_ring_desc(e, idx) + 0x2000;
}

int env_start_ring(struct env *e, unsigned idx, int backend)
{
	int ret;

	if (!e->dev->owner.tgid && (ret = env_set_owner(e)))
		return ret;
	if ((!e->dev->mem || !e->dev->mem->nregions) && (ret = env_mem_guest(e)))
		return ret;
	if (!usv_vq_running(&e->dev->vqs[idx])) {
		ret = env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, idx, 256);
		if (ret)
			return ret;
		ret = env_vring_addr(e, idx, 0, env_ring_desc(e, idx),
				     env_ring_used(e, idx), env_ring_avail(e, idx), 0);
		if (ret)
			return ret;
	}
	return env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, idx, backend);
}

int env_backend_or_skip(struct env *e)
{
	char why[300];
	int fd = open_backend(why, sizeof(why));

	if (fd < 0)
		SKIP_BECAUSE("%s", why);
	return env_keep(e, fd);
}

unsigned dp_count(const struct env *e, enum dp_kind kind, unsigned idx,
		  unsigned what)
{
	unsigned n = 0;

	for (unsigned i = 0; i < e->dp.n; i++)
		if (e->dp.ev[i].kind == kind && e->dp.ev[i].idx == idx &&
		    e->dp.ev[i].what == what)
			n++;
	return n;
}

const struct dp_event *dp_last(const struct env *e)
{
	assert_true(e->dp.n > 0);
	return &e->dp.ev[e->dp.n - 1];
}

void expect_kernel(int got, int want, int known, const char *what)
{
	const char *strict = getenv("USV_TEST_STRICT");

	if (got == want)
		return;
	if (got == known && !(strict && strcmp(strict, "0") != 0)) {
		print_message("known divergence from the kernel: %s: usvhost %d (%s), "
			      "kernel %d (%s)\n", what, got, got < 0 ? strerror(-got) : "ok",
			      want, want < 0 ? strerror(-want) : "ok");
		skip();
	}
	fail_msg("%s: %d (%s), expected the kernel's %d (%s)", what, got,
		 got < 0 ? strerror(-got) : "ok", want, want < 0 ? strerror(-want) : "ok");
}
