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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
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
