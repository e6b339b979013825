/* SPDX-License-Identifier: MIT */
/*
 * NET_SET_BACKEND: the argument, owner and index checks, what may be a
 * backend (a tap or an AF_PACKET raw socket), starting and stopping a ring,
 * and a failed start.
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

static void put_u16(uint64_t uva, uint16_t v)
{
	memcpy((void *)(uintptr_t)uva, &v, sizeof(v));
}

static uint16_t get_u16(uint64_t uva)
{
	uint16_t v;

	memcpy(&v, (void *)(uintptr_t)uva, sizeof(v));
	return v;
}
static void net_set_backend_reads_its_argument_before_the_owner_check(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_ioctl_at(e, &e->other, USV_VHOST_NET_SET_BACKEND, UFAKE_BAD), -EFAULT);
	assert_int_equal(env_ioctl_at(e, &e->other, USV_VHOST_NET_SET_BACKEND, ARG_LAST4), -EFAULT);
	assert_int_equal(env_file(e, &e->other, USV_VHOST_NET_SET_BACKEND, 0, -1), -EPERM);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_ioctl_at(e, &e->other, USV_VHOST_NET_SET_BACKEND, UFAKE_BAD), -EFAULT);
	assert_int_equal(env_file(e, &e->other, USV_VHOST_NET_SET_BACKEND, 0, -1), -EPERM);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_NET_SET_BACKEND, UFAKE_BAD), -EFAULT);
}

static void net_set_backend_checks_the_owner_then_the_index(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_file(e, &e->other, USV_VHOST_NET_SET_BACKEND, 2, -1), -EPERM);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 2, -1), -ENOBUFS);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, UINT32_MAX, -1),
			 -ENOBUFS);
}

static void net_set_backend_before_a_memory_table_is_efault(void **state)
{
	struct env *e = *state;
	int rd = env_pipe(e);
	char why[128];
	int backend = open_backend(why, sizeof(why));

	if (backend >= 0)
		env_keep(e, backend);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), -EFAULT);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 1, rd), -EFAULT);
	if (backend >= 0)
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, backend),
				 -EFAULT);
	assert_int_equal(e->dp.n, 0);
}

static void net_set_backend_with_a_ring_out_of_reach_is_efault(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 256), 0);
	assert_int_equal(env_vring_addr(e, 0, 0, 0x1000, T - 2048, 0x3000, 0), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), -EFAULT);
	assert_int_equal(env_vring_addr(e, 0, 0, 0x1000, T - 2052, 0x3000, 0), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
}

static void net_set_backend_refuses_what_is_no_tap_or_packet_socket(void **state)
{
	struct env *e = *state;
	int rd = env_pipe(e), efd = env_eventfd(e);
	int udp = env_keep(e, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	int mfd = env_keep(e, memfd_create("usv-unit", MFD_CLOEXEC));
	int sock[2], fds;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock), 0);
	env_keep(e, sock[0]);
	env_keep(e, sock[1]);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	fds = count_open_fds();
	const int bad[] = { rd, efd, udp, sock[0], mfd, closed_fd_number(), -2 };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, bad[i]),
				 -ENOTSOCK);
	assert_int_equal(count_open_fds(), fds);
	assert_int_equal(e->dp.n, 0);
	assert_false(usv_vq_running(&e->dev->vqs[0]));
}

static void net_set_backend_minus_one_on_a_stopped_ring_does_nothing(void **state)
{
	struct env *e = *state;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 1, -1), 0);
	assert_int_equal(e->dp.n, 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
}

static void check_attach(struct env *e, int backend, unsigned idx)
{
	uint64_t used = env_ring_used(e, idx);
	int fds;

	assert_int_equal(env_set_owner(e), 0);
	fds = count_open_fds();
	put_u16(used, 0xffff);    /* used->flags */
	put_u16(used + 2, 1234);  /* used->idx */
	assert_int_equal(env_start_ring(e, idx, backend), 0);
	assert_true(usv_vq_running(&e->dev->vqs[idx]));
	assert_true(usv_same_file(e->dev->vqs[idx].backend_fd, backend));
	/* The datapath was told, with the ring ready to run. */
	assert_int_equal(dp_count(e, DP_START, idx, 0), 1);
	assert_int_equal(dp_last(e)->kind, DP_START);
	assert_true(dp_last(e)->backend_fd >= 0);
	/* Attaching publishes our used flags and learns the used index. */
	assert_int_equal(get_u16(used), 0);
	assert_int_equal(dp_last(e)->last_used_idx, 1234);
	assert_int_equal(e->dev->vqs[idx].last_used_idx, 1234);
	/* One more fd: the imported backend (the memory table borrows the
	 * owner's /proc/<pid>/mem, it opens none of its own). */
	assert_int_equal(count_open_fds(), fds + 1);
}

static void net_set_backend_accepts_an_af_packet_raw_socket(void **state)
{
	struct env *e = *state;
	char why[128];
	int fd = open_packet_socket(why, sizeof(why)), dgram;

	if (fd < 0)
		SKIP_BECAUSE("%s", why);
	env_keep(e, fd);
	check_attach(e, fd, 0);
	/* A packet socket that is not SOCK_RAW is refused on the other ring. */
	dgram = env_keep(e, socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 1, 256), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 1, dgram), -ENOTSOCK);
}

static void net_set_backend_accepts_a_tun_fd(void **state)
{
	struct env *e = *state;
	char why[128];
	int fd = open_tun(why, sizeof(why));

	if (fd < 0)
		SKIP_BECAUSE("%s", why);
	env_keep(e, fd);
	check_attach(e, fd, 1);
}

/* What one device holds: the owner's pidfd and /proc/<pid>/mem (the memory
 * table borrows it), the eventfds, one fd for a tap both rings use. */
static void a_device_pins_one_fd_per_file_it_holds(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int kick[2] = { env_eventfd(e), env_eventfd(e) };
	int call[2] = { env_eventfd(e), env_eventfd(e) };
	int fds = count_open_fds(), shared;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(count_open_fds(), fds + 2);
	assert_int_equal(env_mem_guest(e), 0);
	assert_int_equal(count_open_fds(), fds + 2);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, i, kick[i]), 0);
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, i, call[i]), 0);
		assert_int_equal(env_start_ring(e, i, backend), 0);
	}
	print_message("a running device pins %d fds (owner 2, eventfds 4, tap 1)\n",
		      count_open_fds() - fds);
	assert_int_equal(count_open_fds(), fds + 7);
	shared = e->dev->vqs[0].backend_fd;
	assert_int_equal(e->dev->vqs[1].backend_fd, shared);
	/* Detaching one ring leaves the other's tap open; the last closes it. */
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
	assert_true(fd_is_open(shared));
	assert_true(usv_same_file(e->dev->vqs[1].backend_fd, backend));
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 1, -1), 0);
	assert_int_equal(count_open_fds(), fds + 6);
	/* Attached again, then released with the device: nothing left. */
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_start_ring(e, 1, backend), 0);
	assert_int_equal(count_open_fds(), fds + 7);
	assert_int_equal(env_ioctl_at(e, &e->owner, USV_VHOST_RESET_OWNER, 0), 0);
	assert_int_equal(count_open_fds(), fds);
}

static void net_set_backend_with_an_unwritable_used_ring_is_efault(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	uint8_t *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fds;

	assert_true(ro != MAP_FAILED);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	fds = count_open_fds();
	assert_int_equal(env_vring_addr(e, 0, 0, env_ring_desc(e, 0), (uintptr_t)ro,
					env_ring_avail(e, 0), 0), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, backend), -EFAULT);
	/* Used ring at address 0 (never set): the same. */
	assert_int_equal(env_vring_addr(e, 1, 0, 0, 0, 0, 0), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 1, backend), -EFAULT);
	assert_int_equal(count_open_fds(), fds);
	assert_int_equal(e->dp.n, 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 0, 64), 0);
	munmap(ro, 4096);
}

static void net_set_backend_minus_one_stops_the_ring(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int imported;

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), 0);
	imported = e->dev->vqs[0].backend_fd;
	fake_dp_clear(&e->dp);
	e->dp.watch_fd = imported;
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(e->dp.ev[0].kind, DP_STOP);
	assert_int_equal(e->dp.ev[0].idx, 0);
	assert_true(e->dp.ev[0].watch_open); /* stopped before its fd closed */
	assert_false(fd_is_open(imported));
	assert_false(usv_vq_running(&e->dev->vqs[0]));
	/* Stopped: the ring can be reconfigured and restarted. */
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, 0, 9), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(env_out_state(e).num, 9);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, -1), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(dp_count(e, DP_START, 0, 0), 1);
}

static void net_set_backend_with_the_same_backend_again_changes_nothing(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int imported, fds;

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	imported = e->dev->vqs[0].backend_fd;
	fds = count_open_fds();
	fake_dp_clear(&e->dp);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, backend), 0);
	assert_int_equal(e->dp.n, 0);
	assert_int_equal(e->dev->vqs[0].backend_fd, imported);
	assert_true(fd_is_open(imported));
	assert_int_equal(count_open_fds(), fds);
	/* A dup is the same open file: the same answer. */
	int dup_fd = env_keep(e, fcntl(backend, F_DUPFD_CLOEXEC, 0));
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, dup_fd), 0);
	assert_int_equal(e->dp.n, 0);
}

static void net_set_backend_with_a_new_backend_stops_then_starts(void **state)
{
	struct env *e = *state;
	int a = env_backend_or_skip(e), b = env_backend_or_skip(e);
	int old;

	assert_int_equal(env_start_ring(e, 1, a), 0);
	old = e->dev->vqs[1].backend_fd;
	fake_dp_clear(&e->dp);
	e->dp.watch_fd = old;
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 1, b), 0);
	assert_int_equal(e->dp.n, 2);
	assert_int_equal(e->dp.ev[0].kind, DP_STOP);
	assert_int_equal(e->dp.ev[1].kind, DP_START);
	assert_true(e->dp.ev[0].watch_open);
	assert_true(usv_same_file(e->dev->vqs[1].backend_fd, b));
	assert_false(fd_is_open(old));
}

static void net_set_backend_failing_to_start_keeps_the_old_backend(void **state)
{
	struct env *e = *state;
	int a = env_backend_or_skip(e), b = env_backend_or_skip(e);
	int fds;

	assert_int_equal(env_start_ring(e, 0, a), 0);
	fds = count_open_fds();
	fake_dp_clear(&e->dp);
	e->dp.fail_next_start = -ENOMEM;
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 0, b), -ENOMEM);
	/* Stopped, tried the new one, restarted the old one. */
	assert_int_equal(e->dp.n, 3);
	assert_int_equal(e->dp.ev[0].kind, DP_STOP);
	assert_int_equal(e->dp.ev[1].kind, DP_START);
	assert_int_equal(e->dp.ev[2].kind, DP_START);
	assert_true(usv_vq_running(&e->dev->vqs[0]));
	assert_true(usv_same_file(e->dev->vqs[0].backend_fd, a));
	assert_int_equal(count_open_fds(), fds);
}

static void net_set_backend_failing_to_start_leaves_the_ring_stopped(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	int fds;

	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_mem_guest(e), 0);
	fds = count_open_fds();
	e->dp.fail_next_start = -EIO;
	assert_int_equal(env_start_ring(e, 1, backend), -EIO);
	assert_false(usv_vq_running(&e->dev->vqs[1]));
	assert_int_equal(count_open_fds(), fds);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, 1, 64), 0);
	assert_int_equal(env_start_ring(e, 1, backend), 0); /* fails only once */
}

int main(void)
{
#define E(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
		E(net_set_backend_reads_its_argument_before_the_owner_check),
		E(net_set_backend_checks_the_owner_then_the_index),
		E(net_set_backend_before_a_memory_table_is_efault),
		E(net_set_backend_with_a_ring_out_of_reach_is_efault),
		E(net_set_backend_refuses_what_is_no_tap_or_packet_socket),
		E(net_set_backend_minus_one_on_a_stopped_ring_does_nothing),
		E(net_set_backend_accepts_an_af_packet_raw_socket),
		E(net_set_backend_accepts_a_tun_fd),
		E(a_device_pins_one_fd_per_file_it_holds),
		E(net_set_backend_with_an_unwritable_used_ring_is_efault),
		E(net_set_backend_minus_one_stops_the_ring),
		E(net_set_backend_with_the_same_backend_again_changes_nothing),
		E(net_set_backend_with_a_new_backend_stops_then_starts),
		E(net_set_backend_failing_to_start_keeps_the_old_backend),
		E(net_set_backend_failing_to_start_leaves_the_ring_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
