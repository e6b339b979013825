/* SPDX-License-Identifier: MIT */
/*
 * One device must not stall another, nor the daemon: full blocking
 * eventfds, busy polling, fds on a frozen FUSE server; and the per-uid
 * device limit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- signalling a full, blocking eventfd -------------------------------- */

/* A blocking eventfd whose counter is at its maximum: one more write blocks. */
static int full_eventfd(void)
{
	uint64_t v = 0xfffffffffffffffeULL;
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd < 0 || write(fd, &v, sizeof(v)) != sizeof(v)) {
		cl_setup_fail("a full blocking eventfd");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void scenario_blocking_call(void)
{
	struct bystander b;
	struct hdev x;
	unsigned from;
	int efd;

	if (!bystander_start(&b) || !hdev_up(&x, "attacker", CL_RAM_MEMFD, MTU))
		goto out;
	hdev_tx_one(&x, 100, "before");
	efd = full_eventfd();
	if (efd < 0)
		goto close;
	cl_vring_file(x.d.fd, USV_VHOST_SET_VRING_CALL, VQ_TX, efd, 0,
		      "attacker (blocking call eventfd, counter full)");
	/* The device holds its own copy: ours can go. */
	close(efd);
	from = bystander_mark(&b);
	/* Each of these asks for an interrupt (used_event). */
	{
		uint32_t seq = ++x.seq;
		static uint8_t got[256];
		uint16_t moved;

		hdev_set_used_event(&x, VQ_TX, x.used[VQ_TX]);
		hdev_tx_post(&x, 100, seq);
		hdev_kick(&x, VQ_TX);
		cl_check(hdev_tap_recv(&x, ETH_TX, seq, got, sizeof(got),
				       cl_scaled(T_PACKET)) == 100,
			 "attacker: TX packet signalled through the full eventfd left the tap");
		moved = hdev_wait_used(&x, VQ_TX, 1, cl_scaled(T_PACKET));
		x.used[VQ_TX] = (uint16_t)(x.used[VQ_TX] + moved);
		cl_sleep_ms(cl_scaled(100));
	}
	for (unsigned i = 0; i < 3; i++) {
		uint32_t seq = ++x.seq;
		static uint8_t got[256];
		uint16_t moved;

		hdev_set_used_event(&x, VQ_TX, x.used[VQ_TX]);
		hdev_tx_post(&x, 100, seq);
		hdev_kick(&x, VQ_TX);
		cl_check(hdev_tap_recv(&x, ETH_TX, seq, got, sizeof(got),
				       cl_scaled(T_PACKET)) == 100,
			 "attacker: TX packet %u after the blocked signal left the tap", i + 1);
		moved = hdev_wait_used(&x, VQ_TX, 1, cl_scaled(T_PACKET));
		cl_check(moved == 1, "attacker: TX packet %u after the blocked signal was used",
			 i + 1);
		x.used[VQ_TX] = (uint16_t)(x.used[VQ_TX] + moved);
	}
	hdev_rx_one(&x, 100, "on the attacker's other ring");
	bystander_check(&b, from, "a full blocking call eventfd", T_LATENCY);
	control_answers("a full blocking call eventfd");
	hx_check_daemon_alive("after a full blocking call eventfd");
close:
	hdev_close(&x);
out:
	bystander_stop(&b);
}

void scenario_blocking_err(void)
{
	struct bystander b;
	struct hdev x;
	unsigned from;
	int efd;

	if (!bystander_start(&b) || !hdev_up(&x, "attacker", CL_RAM_MEMFD, MTU))
		goto out;
	hdev_tx_one(&x, 100, "before");
	efd = full_eventfd();
	if (efd < 0)
		goto close;
	cl_vring_file(x.d.fd, USV_VHOST_SET_VRING_ERR, VQ_TX, efd, 0,
		      "attacker (blocking ERR eventfd, counter full)");
	close(efd);
	from = bystander_mark(&b);
	/* A head >= num: the ring stops and signals its ERR eventfd. */
	hdev_post(&x, VQ_TX, NUM);
	hdev_kick(&x, VQ_TX);
	hdev_check_broken(&x, VQ_TX);
	hdev_rx_one(&x, 100, "on the attacker's other ring");
	bystander_check(&b, from, "a full blocking ERR eventfd", T_LATENCY);
	control_answers("a full blocking ERR eventfd");
	hx_check_daemon_alive("after a full blocking ERR eventfd");
close:
	hdev_close(&x);
out:
	bystander_stop(&b);
}

/* ---- busy polling ------------------------------------------------------- */

void scenario_busyloop(void)
{
	struct bystander b;
	struct hdev x;
	unsigned from;

	if (!bystander_start(&b))
		goto out;
	from = bystander_mark(&b);
	cl_sleep_ms(300);
	bystander_check(&b, from, "no attack (reference)", T_LATENCY);
	if (!hdev_open(&x, "attacker", CL_RAM_MEMFD, MTU))
		goto close;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		struct usv_vhost_vring_state s = { .index = vq, .num = 0xffffffffu };

		cl_ioctl(x.d.fd, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s, 0,
			 "attacker: SET_VRING_BUSYLOOP_TIMEOUT vq %u 0xffffffff us", vq);
	}
	if (!hdev_start(&x))
		goto close;
	/* Both rings idle: the daemon may poll them, but not at others' cost. */
	from = bystander_mark(&b);
	cl_sleep_ms(cl_scaled(1500));
	bystander_check(&b, from, "an idle ring busy-polling for 0xffffffff us", T_LATENCY);
	control_answers("an idle ring busy-polling");
	hdev_tx_one(&x, 100, "the busy-polled device itself");
	hx_check_daemon_alive("after busy polling");
close:
	hdev_close(&x);
out:
	bystander_stop(&b);
}

/* ---- fds on a FUSE file whose server never answers ---------------------- */

/*
 * Any close of an fd of the frozen server's file sends it a FLUSH, and waits
 * (the kernel's filp_close()): the daemon must not take such an fd in and
 * close it while serving a request. For the same reason the processes of
 * this scenario that hold that fd exit only once the server runs again, and
 * the control check's child is forked before the fd is opened.
 */
enum hang_kind { HANG_KICK, HANG_CALL, HANG_ERR, HANG_BACKEND };

static const struct {
	const char *name;
	unsigned long cmd;
	int want;
} hang_kinds[] = {
	[HANG_KICK] = { "kick", USV_VHOST_SET_VRING_KICK, EINVAL },
	[HANG_CALL] = { "call", USV_VHOST_SET_VRING_CALL, EINVAL },
	[HANG_ERR] = { "err", USV_VHOST_SET_VRING_ERR, EINVAL },
	[HANG_BACKEND] = { "backend", USV_VHOST_NET_SET_BACKEND, ENOTSOCK },
};

struct hang_args {
	int stall_fd;
	enum hang_kind kind;
	struct gate exit; /* opened once the frozen server runs again */
};

/* A device of its own; passes the frozen server's file as hdev_kick, call, err
 * or backend: answered at once with the kernel's errno. */
static int hang_main(void *arg)
{
	struct hang_args *a = arg;
	struct usv_vhost_vring_file f = { .index = 0, .fd = a->stall_fd };
	struct cl_ram ram = { .memfd = -1 };
	struct cl_ring ring;
	char nbuf[32];
	uint64_t t0, ms;
	int fd = open(hx.dev, O_RDWR | O_CLOEXEC), r, err;
	bool ok;

	if (fd < 0) {
		cl_setup_fail("open %s", hx.dev);
		goto wait;
	}
	ok = cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, 0, "SET_OWNER");
	if (ok && a->kind == HANG_BACKEND) {
		/* NET_SET_BACKEND wants memory and a ring first (else EFAULT). */
		ok = cl_ram_init(&ram, CL_RAM_MEMFD, RAM_SIZE) &&
		     cl_set_mem_table(fd, &ram, "caller");
		if (ok) {
			cl_ring_place(&ram, 0, 0, &ring);
			cl_ring_prepare(&ring, 0, 0);
			ok = cl_setup_ring(fd, 0, &ring, 0, -1, "caller");
		}
	}
	t0 = cl_now_ms();
	r = ioctl(fd, hang_kinds[a->kind].cmd, &f);
	err = r < 0 ? errno : 0;
	ms = cl_now_ms() - t0;
	cl_check(r < 0 && err == hang_kinds[a->kind].want && ms <= cl_scaled(T_CONTROL),
		 "%s with an fd on a frozen FUSE server answered %s after %llu ms (want %s "
		 "within %u ms)", cl_ioctl_name(hang_kinds[a->kind].cmd, nbuf, sizeof(nbuf)),
		 r < 0 ? strerrorname_np(err) : "0", (unsigned long long)ms,
		 strerrorname_np(hang_kinds[a->kind].want), cl_scaled(T_CONTROL));
wait:
	/* Closing anything now could wait on the frozen server. */
	gate_wait(&a->exit, cl_scaled(T_SCENARIO));
	return 0;
}

void scenario_fuse_fd_hang(void)
{
	enum { CROWD = 16 };
	struct bystander b = { NULL, -1 };
	struct hang_args a[4], crowd;
	struct gate ctl = { -1, -1 }, exit_gate = { -1, -1 };
	pid_t pid[4], cpid[CROWD], ctl_pid;
	unsigned from;
	int sfd = -1;

	if (!hx.stall_dev || hx.stall_pid <= 0) {
		cl_check(false, "fuse-fd-hang needs --stall-dev and --stall-pid");
		return;
	}
	if (!bystander_start(&b))
		goto out;
	ctl_pid = control_prepare(&ctl);
	if (!gate_open(&exit_gate))
		goto out;
	sfd = open(hx.stall_dev, O_RDWR | O_CLOEXEC);
	if (sfd < 0) {
		cl_setup_fail("open %s", hx.stall_dev);
		goto out;
	}
	/* From now on the second server answers nothing; wait out the one
	 * second its attributes are cached, so that fstat() would ask it. */
	if (kill(hx.stall_pid, SIGSTOP) < 0) {
		cl_setup_fail("SIGSTOP %d", (int)hx.stall_pid);
		goto out;
	}
	cl_print("    second usvhostd (pid %d) stopped; its file is fd %d here", (int)hx.stall_pid,
		 sfd);
	cl_sleep_ms(1200);
	from = bystander_mark(&b);
	for (unsigned k = 0; k < 4; k++) {
		a[k] = (struct hang_args){ .stall_fd = sfd, .kind = (enum hang_kind)k,
					   .exit = exit_gate };
		pid[k] = cl_spawn(hang_main, &a[k], hang_kinds[k].name);
	}
	cl_sleep_ms(cl_scaled(T_CONTROL + 500));
	/* As many more as the daemon has request threads, all at once. */
	crowd = (struct hang_args){ .stall_fd = sfd, .kind = HANG_KICK, .exit = exit_gate };
	for (unsigned i = 0; i < CROWD; i++)
		cpid[i] = cl_spawn(hang_main, &crowd, "one of 16 callers");
	cl_sleep_ms(cl_scaled(500));
	control_check(ctl_pid, &ctl, "20 callers passing fds of a frozen FUSE server");
	bystander_check(&b, from, "fds of a frozen FUSE server passed in", T_LATENCY);
	/* The server runs again: whatever waited on it may finish and exit. */
	kill(hx.stall_pid, SIGCONT);
	cl_close(&exit_gate.w);
	for (unsigned k = 0; k < 4; k++) {
		char what[64];

		snprintf(what, sizeof(what), "the caller passing it as %s", hang_kinds[k].name);
		cl_reap(pid[k], T_CONTROL, what);
	}
	for (unsigned i = 0; i < CROWD; i++)
		cl_reap(cpid[i], T_CONTROL, "one of 16 callers");
	hx_check_daemon_alive("after fds of a frozen FUSE server");
out:
	kill(hx.stall_pid, SIGCONT);
	cl_close(&sfd);
	gate_close(&exit_gate);
	gate_close(&ctl);
	bystander_stop(&b);
}

/* ---- devices per uid ---------------------------------------------------- */

#define LIMIT 3u
#define UID_A 4242u
#define UID_B 4243u

struct limit_args {
	int to_parent[2], to_child[2]; /* pipes */
};

static bool hx_read_byte(int fd, unsigned ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, (int)ms) == 1 && read(fd, &c, 1) == 1;
}

static bool hx_write_byte(int fd)
{
	return write(fd, "x", 1) == 1;
}

/* uid A: opens up to the limit, is refused one more; once one is closed
 * (and the parent saw the release), opens one again. */
static int limit_uid_a(void *arg)
{
	struct limit_args *a = arg;
	int fds[LIMIT], extra, err;

	if (!hx_drop_privileges(UID_A))
		return 1;
	for (unsigned i = 0; i < LIMIT; i++) {
		fds[i] = open(hx.dev, O_RDWR | O_CLOEXEC);
		cl_check(fds[i] >= 0, "uid %u: open %u of %u (%s)", UID_A, i + 1, LIMIT,
			 fds[i] >= 0 ? "ok" : strerror(errno));
	}
	extra = open(hx.dev, O_RDWR | O_CLOEXEC);
	err = errno;
	cl_check(extra < 0 && err == EMFILE, "uid %u: open %u (over --max-devices-per-user=%u) "
		 "fails with EMFILE (got %s)", UID_A, LIMIT + 1, LIMIT,
		 extra < 0 ? strerrorname_np(err) : "an open device");
	if (extra >= 0)
		close(extra);
	/* Holding LIMIT: the parent checks another uid meanwhile. */
	if (!hx_write_byte(a->to_parent[1]) || !hx_read_byte(a->to_child[0], cl_scaled(10000)))
		cl_setup_fail("uid %u: talk to the parent", UID_A);
	cl_close(&fds[0]);
	if (!hx_write_byte(a->to_parent[1]) || !hx_read_byte(a->to_child[0], cl_scaled(10000)))
		cl_setup_fail("uid %u: talk to the parent", UID_A);
	fds[0] = open(hx.dev, O_RDWR | O_CLOEXEC);
	cl_check(fds[0] >= 0, "uid %u: after closing one, an open succeeds again (%s)", UID_A,
		 fds[0] >= 0 ? "ok" : strerror(errno));
	for (unsigned i = 0; i < LIMIT; i++)
		cl_close(&fds[i]);
	return 0;
}

static int limit_uid_b(void *arg)
{
	int fd;

	(void)arg;
	if (!hx_drop_privileges(UID_B))
		return 1;
	fd = open(hx.dev, O_RDWR | O_CLOEXEC);
	if (cl_check(fd >= 0, "uid %u opens a device while uid %u is at its limit (%s)", UID_B,
		     UID_A, fd >= 0 ? "ok" : strerror(errno)))
		cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, 0, "uid %u: SET_OWNER", UID_B);
	cl_close(&fd);
	return 0;
}

void scenario_device_limit(void)
{
	struct limit_args a = { { -1, -1 }, { -1, -1 } };
	unsigned refused0 = hx_log_count("refused"), released0;
	uint64_t end;
	pid_t pa;

	if (pipe2(a.to_parent, O_CLOEXEC) < 0 || pipe2(a.to_child, O_CLOEXEC) < 0) {
		cl_setup_fail("pipes");
		return;
	}
	pa = cl_spawn(limit_uid_a, &a, "uid 4242");
	if (cl_check(hx_read_byte(a.to_parent[0], cl_scaled(10000)), "uid %u got to its limit",
		     UID_A)) {
		cl_check(hx_log_count("refused") > refused0, "the daemon log has a line saying an "
			 "open was refused");
		cl_reap(cl_spawn(limit_uid_b, NULL, "uid 4243"), 5000, "uid 4243");
	}
	released0 = hx_log_count(": release (");
	if (!hx_write_byte(a.to_child[1]) || !hx_read_byte(a.to_parent[0], cl_scaled(10000)))
		cl_setup_fail("uid %u: closing one", UID_A);
	/* A close reaches the daemon after close(2) returns: wait (bounded)
	 * for the release before the next open. */
	for (end = cl_now_ms() + cl_scaled(3000);
	     hx_log_count(": release (") <= released0 && cl_now_ms() < end;)
		cl_sleep_ms(20);
	hx_write_byte(a.to_child[1]);
	cl_reap(pa, 10000, "uid 4242");
	hx_check_daemon_alive("after the device limit");
	for (unsigned i = 0; i < 2; i++) {
		cl_close(&a.to_parent[i]);
		cl_close(&a.to_child[i]);
	}
}

/* ---- blocking reads of the IOTLB channel ------------------------------- */

static void reader_wake(int sig)
{
	(void)sig;
}

/* A device with an IOTLB, and a blocking read() that no MISS will answer:
 * it waits in one of the daemon's request threads until SIGUSR1 interrupts
 * it (or, past the daemon's bound, answers EAGAIN at once). */
static int reader_main(void *arg)
{
	struct sigaction sa = { .sa_handler = reader_wake }; /* no SA_RESTART */
	uint64_t ap = 1ULL << 33; /* VIRTIO_F_ACCESS_PLATFORM: the device gets an IOTLB */
	uint8_t msg[72];
	int fd = open(hx.dev, O_RDWR | O_CLOEXEC);

	(void)arg;
	sigaction(SIGUSR1, &sa, NULL);
	if (fd < 0 || !cl_ioctl(fd, USV_VHOST_SET_OWNER, NULL, 0, "SET_OWNER") ||
	    !cl_ioctl(fd, USV_VHOST_SET_FEATURES, &ap, 0, "SET_FEATURES ACCESS_PLATFORM"))
		return 1;
	(void)read(fd, msg, sizeof(msg));
	return 0;
}

void scenario_iotlb_blocking_reads(void)
{
	enum { CROWD = 20 }; /* more than the daemon's 16 request threads */
	struct bystander b = { NULL, -1 };
	struct gate ctl = { -1, -1 };
	pid_t pid[CROWD], ctl_pid;
	unsigned from;

	if (!bystander_start(&b))
		goto out;
	ctl_pid = control_prepare(&ctl);
	from = bystander_mark(&b);
	for (unsigned i = 0; i < CROWD; i++)
		pid[i] = cl_spawn(reader_main, NULL, "a caller blocked in read()");
	cl_sleep_ms(cl_scaled(1000));
	control_check(ctl_pid, &ctl, "20 callers blocked in read() of the IOTLB channel");
	bystander_check(&b, from, "20 blocking IOTLB reads", T_LATENCY);
	/* An interrupted read returns: every caller goes. */
	for (unsigned i = 0; i < CROWD; i++)
		if (pid[i] > 0)
			kill(pid[i], SIGUSR1);
	for (unsigned i = 0; i < CROWD; i++)
		cl_reap(pid[i], T_CONTROL, "a caller blocked in read()");
	hx_check_daemon_alive("after 20 blocking IOTLB reads");
out:
	gate_close(&ctl);
	bystander_stop(&b);
}

/* ---- owners whose memory never answers ---------------------------------- */

/* Reads of an owner's memory can wait for as long as the owner likes: here
 * each attacker device has a page of its guest RAM replaced by a private
 * mapping of a FUSE file whose server is stopped, and a TX buffer there.
 * Each device's worker waits in its read of the payload; a ring stop
 * (GET_VRING_BASE) then waits for that worker, and every later request of
 * that device waits for the ring stop. The kernel's vhost has the same
 * waits, in the caller's own thread; the daemon must not let them take its
 * shared request threads: each waiting device may hold one, the others go
 * on (another process's device, the bystander). A userfaultfd would not
 * do: /proc/PID/mem reads do not wait on it, they fail (EFAULT). */
/* The daemon keeps at most 64 requests (and 256 KiB) waiting for one
 * device: of the flood, some wait and the rest are answered EAGAIN. */
enum { STUCK_DEVICES = 18, STUCK_CROWD = 20, STUCK_FLOOD = 60 };
#define STUCK_PAGE (SPARE_AREA + 512 * 1024)

/* A caller thread. Between "frozen" and "let go" no thread of the
 * attacker may map or unmap (a thread's start-up and exit do, under ASan
 * at least): the mmap lock's writer would wait behind the daemon's fault,
 * and every later page fault of the process behind that writer, so calls
 * would wait in the attacker rather than in the daemon. Hence each thread
 * counts itself started before the freeze and leaves only after it. */
struct stuck_call {
	int fd;
	bool base; /* GET_VRING_BASE of TX, else GET_FEATURES */
	int go;      /* an EFD_SEMAPHORE eventfd: one read lets this call go */
	int leave;   /* likewise, after the call: one read lets the thread end */
	atomic_uint *started;
	int ret, err;
	atomic_bool done;
	struct usv_vhost_vring_state st;
	uint64_t features;
};

static void *stuck_call_main(void *arg)
{
	struct stuck_call *c = arg;
	uint64_t one;

	c->ret = -1;
	c->err = EAGAIN;
	atomic_fetch_add(c->started, 1);
	if (read(c->go, &one, sizeof(one)) == sizeof(one)) {
		c->st = (struct usv_vhost_vring_state){ .index = VQ_TX };
		c->ret = c->base ? ioctl(c->fd, USV_VHOST_GET_VRING_BASE, &c->st) :
				   ioctl(c->fd, USV_VHOST_GET_FEATURES, &c->features);
		c->err = c->ret < 0 ? errno : 0;
	}
	atomic_store(&c->done, true);
	(void)!read(c->leave, &one, sizeof(one));
	return NULL;
}

/* Waits 10 s (scaled) for n caller threads to have started. */
static bool stuck_started(atomic_uint *started, unsigned n)
{
	for (unsigned ms = 0; ms < cl_scaled(10000); ms += 5) {
		if (atomic_load(started) >= n)
			return true;
		cl_sleep_ms(5);
	}
	return false;
}

/* Joins t within 10 s (scaled): false if it still waits. */
static bool stuck_join(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)cl_scaled(10000) / 1000;
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

static void stuck_release(int efd, uint64_t n)
{
	if (write(efd, &n, sizeof(n)) != sizeof(n))
		cl_setup_fail("release %llu callers", (unsigned long long)n);
}

/* The attacker and the checker talk over two pipes (hx_link_send). */
struct stuck_link {
	int up[2];   /* attacker -> checker */
	int down[2]; /* checker -> attacker */
	const char *file;
};

/* The attacker, in a process of its own: while its workers wait in a fault
 * on its memory the kernel holds its mmap lock, and a process that maps,
 * forks or even allocates then would wait with them; so it does none of
 * that between "frozen" and "let go", and prints nothing. */
static int stuck_attacker_main(void *arg)
{
	static struct hdev x[STUCK_DEVICES];
	static char tags[STUCK_DEVICES][32];
	static struct stuck_call base[STUCK_DEVICES], crowd[STUCK_CROWD], wr[STUCK_FLOOD];
	struct stuck_link *l = arg;
	pthread_t tb[STUCK_DEVICES], tc[STUCK_CROWD], tw[STUCK_FLOOD];
	unsigned up = 0, nb = 0, nc = 0, nw = 0, ok_base = 0, ok_crowd = 0, early = 0;
	unsigned early_eagain = 0;
	int ffd = -1, go_base = -1, go_crowd = -1, go_wr = -1, leave = -1;
	atomic_uint started = 0;
	bool released = false, done_early[STUCK_FLOOD] = { false };
	uint8_t v = 0, waiting = 0;

	go_base = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	go_crowd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	go_wr = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	leave = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	ffd = open(l->file, O_RDONLY | O_CLOEXEC);
	if (go_base < 0 || go_crowd < 0 || go_wr < 0 || leave < 0 || ffd < 0) {
		cl_setup_fail("eventfds, open %s", l->file);
		goto out;
	}
	for (; up < STUCK_DEVICES; up++) {
		snprintf(tags[up], sizeof(tags[up]), "attacker %u", up);
		if (!frozen_fs_owner_device(&x[up], tags[up], ffd, up, STUCK_PAGE))
			goto out;
	}
	/* A ring stop per device, which will wait for its worker; then more
	 * requests for one device than the daemon has request threads. */
	for (; nb < STUCK_DEVICES; nb++) {
		base[nb] = (struct stuck_call){ .fd = x[nb].d.fd, .base = true, .go = go_base,
					      .leave = leave, .started = &started };
		if (pthread_create(&tb[nb], NULL, stuck_call_main, &base[nb])) {
			cl_setup_fail("a thread for GET_VRING_BASE");
			goto out;
		}
	}
	for (; nc < STUCK_CROWD; nc++) {
		crowd[nc] = (struct stuck_call){ .fd = x[0].d.fd, .go = go_crowd,
						 .leave = leave, .started = &started };
		if (pthread_create(&tc[nc], NULL, stuck_call_main, &crowd[nc])) {
			cl_setup_fail("a thread for GET_FEATURES");
			goto out;
		}
	}
	/* And a flood for that device, more than the daemon keeps waiting. */
	for (; nw < STUCK_FLOOD; nw++) {
		wr[nw] = (struct stuck_call){ .fd = x[0].d.fd, .go = go_wr,
					      .leave = leave, .started = &started };
		if (pthread_create(&tw[nw], NULL, stuck_call_main, &wr[nw])) {
			cl_setup_fail("a thread for the flood");
			goto out;
		}
	}
	if (!stuck_started(&started, nb + nc + nw)) {
		cl_setup_fail("%u caller threads started in 10 s", nb + nc + nw);
		goto out;
	}
	/* Ready; the checker stops the server and says "frozen". */
	if (!hx_link_send(l->up[1], 'r') || !hx_link_recv(l->down[0], &v, 10000) || v != 'f')
		goto out;
	released = true;
	/* Posted only now: a worker woken for anything else (the host's own
	 * frames on a new tap) must not have read the page while it could. */
	frozen_fs_owner_post(x, STUCK_DEVICES, STUCK_PAGE);
	/* The checker sees every worker waiting, then says "ring stops". */
	if (!hx_link_send(l->up[1], 'k') || !hx_link_recv(l->down[0], &v, 30000) || v != 'b')
		goto out;
	stuck_release(go_base, nb);
	cl_sleep_ms(cl_scaled(300));
	stuck_release(go_crowd, nc);
	cl_sleep_ms(cl_scaled(300));
	stuck_release(go_wr, nw);
	cl_sleep_ms(cl_scaled(500));
	for (unsigned i = 0; i < nb; i++)
		waiting = (uint8_t)(waiting + !atomic_load(&base[i].done));
	for (unsigned i = 0; i < nw; i++)
		done_early[i] = atomic_load(&wr[i].done);
	/* How many ring stops wait; then wait for "let go" (the server runs
	 * again). */
	if (!hx_link_send(l->up[1], waiting) || !hx_link_recv(l->down[0], &v, 60000) || v != 'g')
		v = 0;
out:
	if (!released) {
		/* Never let go: the calls fail at once (no ioctl made). */
		if (go_base >= 0)
			stuck_release(go_base, STUCK_DEVICES);
		if (go_crowd >= 0)
			stuck_release(go_crowd, STUCK_CROWD);
		if (go_wr >= 0)
			stuck_release(go_wr, STUCK_FLOOD);
	}
	if (leave >= 0)
		stuck_release(leave, nb + nc + nw);
	for (unsigned i = 0; i < nb; i++) {
		if (stuck_join(tb[i]))
			ok_base += base[i].ret == 0;
		else
			cl_check(false, "attacker %u: GET_VRING_BASE not answered 10 s after the "
				 "server went on", i);
	}
	for (unsigned i = 0; i < nc; i++) {
		if (stuck_join(tc[i]))
			ok_crowd += crowd[i].ret == 0;
		else
			cl_check(false, "attacker 0: GET_FEATURES not answered 10 s after the "
				 "server went on");
	}
	for (unsigned i = 0; i < nw; i++) {
		if (!stuck_join(tw[i])) {
			cl_check(false, "attacker 0: a GET_FEATURES of the flood not answered 10 s "
				 "after the server went on");
			continue;
		}
		early += done_early[i];
		early_eagain += done_early[i] && wr[i].ret < 0 && wr[i].err == EAGAIN;
	}
	if (released) {
		/* Those answered while the device's request still waited were
		 * refused (EAGAIN); some waited with it. */
		cl_check(early >= 1 && early < nw && early_eagain == early,
			 "a flood of %u more requests for a device whose request waits: %u "
			 "answered at once, %u of them EAGAIN (want 1 to %u, all EAGAIN)", nw,
			 early, early_eagain, nw - 1);
		cl_check(ok_base == nb, "once the owner's memory answered, every ring stop "
			 "answered 0 (%u of %u)", ok_base, nb);
		cl_check(ok_crowd == nc, "once the owner's memory answered, every GET_FEATURES "
			 "answered 0 (%u of %u)", ok_crowd, nc);
	}
	for (unsigned i = 0; i < up; i++)
		hdev_close(&x[i]);
	cl_close(&ffd);
	cl_close(&go_base);
	cl_close(&go_crowd);
	cl_close(&go_wr);
	cl_close(&leave);
	return released ? 0 : 1;
}

/* usvhostd --takeover while a device's request waits on its owner's
 * memory: the running daemon cannot stop its front at a point where every
 * request is answered, so it refuses (the new daemon exits non-zero and
 * says why) and serves on, rather than wait for ever serving nobody. */
static void takeover_refused(void)
{
	char out[PATH_MAX], ctl[PATH_MAX + 16], text[4096] = "";
	char *argv[] = { (char *)hx.daemon, "--takeover", ctl, "--foreground", NULL };
	uint64_t t0 = cl_now_ms(), end = t0 + cl_scaled(30000);
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	ssize_t n;
	int st = 0, fd;

	if (!hx.daemon || !hx.control) {
		cl_print("    (no --daemon and --control: the takeover attempt is left out)");
		return;
	}
	snprintf(out, sizeof(out), "%s/takeover.out", hx.files);
	snprintf(ctl, sizeof(ctl), "--control=%s", hx.control);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, hx.daemon, &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		cl_setup_fail("start %s --takeover", hx.daemon);
		return;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, WNOHANG) == 0 && cl_now_ms() < end)
		cl_sleep_ms(50);
	if (cl_now_ms() >= end && waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		cl_check(false, "usvhostd --takeover while a ring stop waits: still running "
			 "after %u ms (killed)", cl_scaled(30000));
		return;
	}
	fd = open(out, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	text[n > 0 ? n : 0] = '\0';
	cl_close(&fd);
	cl_print("    usvhostd --takeover while a ring stop waits: exit %d after %llu ms",
		 WIFEXITED(st) ? WEXITSTATUS(st) : -1, (unsigned long long)(cl_now_ms() - t0));
	cl_check(WIFEXITED(st) && WEXITSTATUS(st) != 0, "usvhostd --takeover while a device's "
		 "request waits on its owner's memory exits non-zero (status 0x%x)", st);
	cl_check(strstr(text, "has not finished") != NULL, "usvhostd --takeover says why it "
		 "was refused (\"has not finished\" in its output: %.300s)", text);
	cl_check(hx_log_wait("hand-over refused", cl_scaled(T_CONTROL)),
		 "the running daemon logged \"hand-over refused\"");
	control_answers("18 devices still waiting, after a refused hand-over");
}

void scenario_owner_memory_hang(void)
{
	struct stuck_link l = { { -1, -1 }, { -1, -1 }, NULL };
	struct frozen_fs fz = { .pid = -1 };
	struct bystander b = { NULL, -1 };
	struct gate ctl = { -1, -1 };
	pid_t ctl_pid = -1, apid = -1;
	uint8_t v = 0;
	unsigned from;

	if (!bystander_start(&b) || !frozen_fs_start(&fz, STUCK_DEVICES * 4096))
		goto out;
	ctl_pid = control_prepare(&ctl);
	if (ctl_pid < 0 || pipe2(l.up, O_CLOEXEC) < 0 || pipe2(l.down, O_CLOEXEC) < 0) {
		cl_setup_fail("the control child, pipes");
		goto out;
	}
	l.file = fz.file;
	apid = cl_spawn(stuck_attacker_main, &l, "attacker");
	/* Every worker waits on its page before any ring stop is asked. */
	if (apid < 0 ||
	    !frozen_fs_freeze_owner(&fz, l.up[0], l.down[1], "the attacker", STUCK_DEVICES) ||
	    !hx_link_send(l.down[1], 'b'))
		goto out;
	from = bystander_mark(&b);
	if (!hx_link_recv(l.up[0], &v, 10000)) {
		cl_check(false, "the attacker did not say how many ring stops wait");
		goto out;
	}
	control_check(ctl_pid, &ctl, "18 devices waiting on their owner's memory, each with a "
		      "ring stop, and 20 more requests for one of them");
	ctl_pid = -1;
	bystander_check(&b, from, "devices waiting on their owner's memory", T_LATENCY);
	cl_print("    %u of %u ring stops waited on their owner's memory", v, STUCK_DEVICES);
	cl_check(v == STUCK_DEVICES, "every attacker's ring stop waited while its owner's memory "
		 "did not answer (%u of %u): the scenario made them wait", v, STUCK_DEVICES);
	takeover_refused();
out:
	/* The server answers again: the workers read their page, every
	 * request waiting is answered. */
	if (fz.pid > 0)
		kill(fz.pid, SIGCONT);
	if (l.down[1] >= 0)
		hx_link_send(l.down[1], 'g');
	if (apid > 0)
		cl_reap(apid, 30000, "the attacker (its requests answered once let go)");
	if (ctl_pid > 0) {
		kill(ctl_pid, SIGKILL);
		cl_reap(ctl_pid, T_CONTROL, "the unused control child");
	}
	gate_close(&ctl);
	hx_check_daemon_alive("after owners whose memory did not answer");
	for (unsigned i = 0; i < 2; i++) {
		cl_close(&l.up[i]);
		cl_close(&l.down[i]);
	}
	frozen_fs_stop(&fz);
	bystander_stop(&b);
}
