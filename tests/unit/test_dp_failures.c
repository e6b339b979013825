/* SPDX-License-Identifier: MIT */
/*
 * Every resource the datapath acquires on a device's way up can fail: the
 * device's state, its worker (control eventfd, io_uring, thread), its rings'
 * buffers, the owner's log lock; and at the datapath's creation the stats
 * writer (path, eventfd, signalfd, thread). The core runs with the real
 * datapath (src/datapath, as usvhostd wires it) and a real tap in a private
 * network namespace. QEMU's sequence, from SET_OWNER through a frame each way
 * to RESET_OWNER and the device's release, is run once to count
 * the acquisitions, then once per acquisition with that one failing. Each
 * run must:
 *  - answer the failure at the request that needed the resource: ENOMEM for
 *    memory, io_uring and the worker thread (the kernel's SET_OWNER answer
 *    when it cannot make its vhost worker), the call's own errno for an fd
 *    (EMFILE); every other request answers 0;
 *  - leave nothing half-started: right after the failed request no worker
 *    thread runs that did not run before, and the process holds the fds it
 *    held before the request;
 *  - succeed when the same request is sent again, and then move a frame
 *    from the guest's TX ring to the tap and one from the tap into the
 *    guest's RX ring;
 *  - release everything: no datapath thread and the fds of the start after
 *    the device is released (LeakSanitizer checks memory in the ASan build).
 *
 * The calls are wrapped at link time (-Wl,--wrap=...): only calls made from
 * the test's, the core's and the datapath's objects, and only those made on
 * the test's thread (the ioctl's), are counted; the worker threads' are not.
 *
 * Needs root (a tap in a private network namespace); skips otherwise.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/device.h"
#include "datapath/uring_dp.h"
#include "ioctl_fixture.h"

/* ---- the failure seam ------------------------------------------------------ */

enum kind { K_ALLOC, K_EVENTFD, K_SIGNALFD, K_URING, K_THREAD, K_NODE_MEM, K_NODE_CPUS, K_N };

static const char *const kind_name[K_N] = {
	"allocation", "eventfd", "signalfd", "io_uring_queue_init", "pthread_create",
	"anonymous mmap (node-local memory)", "open of a node's cpulist",
};

/* What a request answers when a call of this kind fails. Node placement is
 * a preference: without it the device's state comes from the heap and its
 * worker runs on any CPU, and the request succeeds. */
static const int kind_answer[K_N] = {
	-ENOMEM, -EMFILE, -EMFILE, -ENOMEM, -ENOMEM, 0, 0,
};

/* Counting is on only around the code under test, on one thread; 0 in
 * fail_at: none fails. */
static struct {
	bool counting;
	pthread_t thread;
	unsigned count;
	unsigned fail_at;
	unsigned failed;
	enum kind failed_kind;
	unsigned seen[K_N];
} fault;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
int __real_eventfd(unsigned int initval, int flags);
int __real_signalfd(int fd, const sigset_t *mask, int flags);
int __real_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_open(const char *path, int flags, ...);
int __real_numa_num_configured_nodes(void);

static bool fails(enum kind k)
{
	if (!fault.counting || !pthread_equal(pthread_self(), fault.thread))
		return false;
	fault.seen[k]++;
	if (++fault.count != fault.fail_at)
		return false;
	fault.failed++;
	fault.failed_kind = k;
	return true;
}

void *__wrap_malloc(size_t n)
{
	if (fails(K_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fails(K_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	if (fails(K_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	if (fails(K_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strdup(s);
}

int __wrap_eventfd(unsigned int initval, int flags)
{
	if (fails(K_EVENTFD)) {
		errno = EMFILE;
		return -1;
	}
	return __real_eventfd(initval, flags);
}

int __wrap_signalfd(int fd, const sigset_t *mask, int flags)
{
	if (fails(K_SIGNALFD)) {
		errno = EMFILE;
		return -1;
	}
	return __real_signalfd(fd, mask, flags);
}

int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	return fails(K_URING) ? -ENOMEM : __real_io_uring_queue_init(entries, ring, flags);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg)
{
	return fails(K_THREAD) ? EAGAIN : __real_pthread_create(t, a, fn, arg);
}

/* Anonymous mappings only: the datapath's node-local memory (guest RAM is
 * mapped from its fd, io_uring's rings inside liburing). */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_ANONYMOUS) && fails(K_NODE_MEM)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(addr, len, prot, flags, fd, off);
}

/* Only a node's CPU list: the core's opens have their own tests. */
int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!strncmp(path, "/sys/devices/system/node/", 25) && fails(K_NODE_CPUS)) {
		errno = EMFILE;
		return -1;
	}
	return __real_open(path, flags, mode);
}

/* At least two nodes, so that the datapath places each device's state and
 * worker on its memory's node (node 0 on a single-node host). */
int __wrap_numa_num_configured_nodes(void)
{
	int n = __real_numa_num_configured_nodes();

	return n > 1 ? n : 2;
}

/* libnuma's allocating calls end the process (exit(1)) when their bitmask
 * allocation fails, where a request must answer ENOMEM: the datapath must
 * not call them. Counted here, checked by the tests. */
static unsigned libnuma_allocating_calls;

struct bitmask;
void *__real_numa_alloc_onnode(size_t size, int node);
struct bitmask *__real_numa_allocate_cpumask(void);
struct bitmask *__real_numa_allocate_nodemask(void);
int __real_numa_node_to_cpus(int node, struct bitmask *mask);

void *__wrap_numa_alloc_onnode(size_t size, int node)
{
	libnuma_allocating_calls++;
	return __real_numa_alloc_onnode(size, node);
}

struct bitmask *__wrap_numa_allocate_cpumask(void)
{
	libnuma_allocating_calls++;
	return __real_numa_allocate_cpumask();
}

struct bitmask *__wrap_numa_allocate_nodemask(void)
{
	libnuma_allocating_calls++;
	return __real_numa_allocate_nodemask();
}

int __wrap_numa_node_to_cpus(int node, struct bitmask *mask)
{
	libnuma_allocating_calls++;
	return __real_numa_node_to_cpus(node, mask);
}

static void fault_arm(unsigned fail_at)
{
	fault.count = 0;
	fault.failed = 0;
	fault.fail_at = fail_at;
	fault.thread = pthread_self();
	fault.counting = true;
}

static void fault_disarm(void)
{
	fault.counting = false;
}

/* ---- threads, the tap and the guest --------------------------------------- */

/* Threads of this process, but for io_uring's own workers (iou-*, which end
 * with their ring, asynchronously): the test's and the datapath's (usv-devN
 * workers, usv-stats), named or not yet. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[300], comm[32] = "";
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* ended meanwhile */
		if (read(fd, comm, sizeof(comm) - 1) > 0 && strncmp(comm, "iou-", 4))
			n++;
		close(fd);
	}
	closedir(d);
	return n;
}

/* The thread count once it is want: a joined thread leaves /proc/self/task
 * a moment after pthread_join() returns. Waits at most 2 s, then returns
 * what there is. */
static int threads_settled(int want)
{
	int n = count_threads();

	for (int i = 0; i < 2000 && n != want; i++) {
		usleep(1000);
		n = count_threads();
	}
	return n;
}

#define TAP_NAME "usvdpf0"
#define ETH_TYPE_TEST 0x88b5 /* local experimental */
#define VNET_HLEN 10
#define FRAME_LEN 60
#define TX_BUF_OFF 0x4000 /* guest-physical (= offset in e->guest) */
#define RX_BUF_OFF 0x5000
#define RX_BUF_LEN 2048
#define DESC_F_WRITE 2

struct split_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct fx {
	struct env e;
	bool shared_ram; /* guest RAM in a sealed memfd (mapped), else anonymous */
	struct usv_dp *dp;
	int tap;      /* the backend QEMU would pass */
	int capture;  /* AF_PACKET on the tap's interface: what the host sees */
	int kick;     /* ring 1's kick eventfd */
	int rxkick;   /* ring 0's */
};

static int tap_open(char *why, size_t n)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), s;

	if (fd < 0) {
		snprintf(why, n, "/dev/net/tun: %s", strerror(errno));
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TAP_NAME);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(why, n, "TUNSETIFF: %s", strerror(errno));
		close(fd);
		return -1;
	}
	/* Nothing but the test's frames: no IPv6 autoconfiguration on it. */
	s = open("/proc/sys/net/ipv6/conf/" TAP_NAME "/disable_ipv6", O_WRONLY | O_CLOEXEC);
	if (s >= 0) {
		assert_int_equal(write(s, "1", 1), 1);
		close(s);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	return fd;
}

static int capture_open(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_TYPE_TEST),
		.sll_ifindex = (int)if_nametoindex(TAP_NAME),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_TYPE_TEST));

	assert_true(fd >= 0);
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

/* Guest RAM as QEMU's shared RAM: a memfd sealed against shrinking, which
 * the core maps (so the datapath learns its node); -1 on failure. */
static int shared_ram(struct env *e)
{
	int fd = memfd_create("usv-dp-failures", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, ENV_GUEST_SIZE) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		return -1;
	e->guest = mmap(NULL, ENV_GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return fd;
}

static int fx_setup_ram(void **state, bool shared)
{
	struct usv_dp_config dcfg = { 0 };
	struct fx *f = calloc(1, sizeof(*f));
	struct env *e = &f->e;
	char why[200];
	int ramfd = -1;

	if (!f)
		return -1;
	unit_log_setup();
	e->fds_at_start = count_open_fds();
	e->u.reachable = UFAKE_SIZE;
	e->owner.tid = e->owner.tgid = getpid();
	e->other.tid = e->other.tgid = getppid() > 1 ? getppid() : 1;
	f->shared_ram = shared;
	if (shared)
		ramfd = shared_ram(e);
	else
		e->guest = mmap(NULL, ENV_GUEST_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((shared && ramfd < 0) || e->guest == MAP_FAILED)
		return -1;
	if (shared)
		env_keep(e, ramfd);
	if (usv_dp_create(&dcfg, &f->dp) ||
	    usv_devlist_init(&e->list, usv_profile_default(), usv_dp_ops(), f->dp))
		return -1;
	f->tap = tap_open(why, sizeof(why));
	*state = f;
	if (f->tap < 0) {
		print_message("skipped: %s (needs root: a tap in a private network "
			      "namespace)\n", why);
		return 0;
	}
	env_keep(e, f->tap);
	f->capture = env_keep(e, capture_open());
	f->kick = env_eventfd(e);
	f->rxkick = env_eventfd(e);
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_ram(state, false);
}

static int fx_setup_shared(void **state)
{
	return fx_setup_ram(state, true);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	struct env *e = &f->e;
	int now, threads, at_start = e->fds_at_start;

	for (unsigned i = 0; i < e->nfds; i++)
		close(e->fds[i]);
	usv_devlist_destroy(&e->list);
	usv_dp_destroy(f->dp);
	munmap(e->guest, ENV_GUEST_SIZE);
	now = count_open_fds();
	threads = threads_settled(1);
	free(f);
	if (now != at_start || threads != 1) {
		print_error("leak: %d open fds before the test, %d after; %d threads "
			    "left, want 1\n", at_start, now, threads);
		return -1;
	}
	return 0;
}

/* Empty rings for a new device (it starts at index 0). */
static void guest_reset(struct env *e)
{
	memset(e->guest, 0, ENV_GUEST_SIZE);
}

/* The guest posts one frame on the TX ring (vq 1) and kicks. */
static void guest_send(struct fx *f, unsigned run)
{
	struct env *e = &f->e;
	uint8_t *buf = e->guest + TX_BUF_OFF;
	uint8_t *ring = e->guest + (env_ring_desc(e, 1) - (uintptr_t)e->guest);
	struct split_desc *desc = (struct split_desc *)ring;
	uint16_t *avail = (uint16_t *)(ring + 0x1000);
	uint64_t one = 1;

	memset(buf, 0, VNET_HLEN + FRAME_LEN);  /* vnet header: no offloads */
	memset(buf + VNET_HLEN, 0xff, 6);        /* broadcast */
	memcpy(buf + VNET_HLEN + 6, "\x02\0\0\0\0\x01", 6);
	buf[VNET_HLEN + 12] = ETH_TYPE_TEST >> 8;
	buf[VNET_HLEN + 13] = ETH_TYPE_TEST & 0xff;
	snprintf((char *)buf + VNET_HLEN + 14, FRAME_LEN - 14, "run %u", run);
	desc[0] = (struct split_desc){ .addr = TX_BUF_OFF, .len = VNET_HLEN + FRAME_LEN };
	avail[2] = 0;                            /* ring[0]: head 0 */
	__atomic_store_n(&avail[1], 1, __ATOMIC_RELEASE); /* idx */
	assert_int_equal(write(f->kick, &one, sizeof(one)), sizeof(one));
}

/* The frame of run `run` reached the tap's host side, and the guest got its
 * buffer back. */
static void expect_sent(struct fx *f, unsigned run)
{
	struct env *e = &f->e;
	uint8_t *ring = e->guest + (env_ring_desc(e, 1) - (uintptr_t)e->guest);
	uint16_t *used = (uint16_t *)(ring + 0x2000);
	char want[32];
	uint8_t got[256];
	struct timespec t0, t;

	snprintf(want, sizeof(want), "run %u", run);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = f->capture, .events = POLLIN };
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			fail_msg("run %u: the guest's frame never reached the tap", run);
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = recv(f->capture, got, sizeof(got), 0);
		if (n >= 14 + (ssize_t)strlen(want) && !memcmp(got + 14, want, strlen(want) + 1))
			break;
	}
	while (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != 1) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			fail_msg("run %u: the TX buffer was never used", run);
		usleep(1000);
	}
}

/* The guest posts a buffer on the RX ring (vq 0) and kicks; the host sends a
 * frame into the tap; it lands in the buffer, after the tap's vnet header. */
static void guest_receive(struct fx *f, unsigned run)
{
	struct env *e = &f->e;
	uint8_t *ring = e->guest + (env_ring_desc(e, 0) - (uintptr_t)e->guest);
	struct split_desc *desc = (struct split_desc *)ring;
	uint16_t *avail = (uint16_t *)(ring + 0x1000);
	uint16_t *used = (uint16_t *)(ring + 0x2000);
	uint8_t frame[FRAME_LEN] = { 0 }, *buf = e->guest + RX_BUF_OFF;
	char want[32];
	uint64_t one = 1;
	struct timespec t0, t;

	desc[0] = (struct split_desc){ .addr = RX_BUF_OFF, .len = RX_BUF_LEN,
				       .flags = DESC_F_WRITE };
	avail[2] = 0;
	__atomic_store_n(&avail[1], 1, __ATOMIC_RELEASE);
	assert_int_equal(write(f->rxkick, &one, sizeof(one)), sizeof(one));
	memcpy(frame, "\x02\0\0\0\0\x01", 6);
	memcpy(frame + 6, "\x02\0\0\0\0\x02", 6);
	frame[12] = ETH_TYPE_TEST >> 8;
	frame[13] = ETH_TYPE_TEST & 0xff;
	snprintf(want, sizeof(want), "rx %u", run);
	memcpy(frame + 14, want, strlen(want) + 1);
	assert_int_equal(send(f->capture, frame, sizeof(frame), 0), sizeof(frame));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != 1) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			fail_msg("run %u: the host's frame never reached the guest", run);
		usleep(1000);
	}
	if (memcmp(buf + VNET_HLEN + 14, want, strlen(want) + 1))
		fail_msg("run %u: the guest's RX buffer holds something else", run);
}

/* ---- QEMU's sequence, step by step ------------------------------------------ */

enum step {
	ST_OWNER, ST_MEM, ST_KICK, ST_KICK0, ST_RING1, ST_RING0, ST_KICK_AGAIN,
	ST_MEM_AGAIN, ST_SEND, ST_BASE1, ST_DETACH1, ST_RING1_AGAIN, ST_RESET,
	ST_RELEASE, ST_N
};

static const char *const step_name[ST_N] = {
	"SET_OWNER", "SET_MEM_TABLE", "SET_VRING_KICK 1", "SET_VRING_KICK 0",
	"ring 1 NUM, ADDR, NET_SET_BACKEND", "ring 0 NUM, ADDR, NET_SET_BACKEND",
	"SET_VRING_KICK 1 on a running ring", "SET_MEM_TABLE with both rings running",
	"a frame each way", "GET_VRING_BASE 1", "NET_SET_BACKEND 1 -1",
	"NET_SET_BACKEND 1 again", "RESET_OWNER", "the device's release",
};

static int run_step(struct fx *f, enum step s, unsigned run)
{
	struct env *e = &f->e;

	switch (s) {
	case ST_OWNER:
		return env_set_owner(e);
	case ST_MEM:
	case ST_MEM_AGAIN:
		return env_mem_guest(e);
	case ST_KICK:
	case ST_KICK_AGAIN:
		return env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, 1, f->kick);
	case ST_KICK0:
		return env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, 0, f->rxkick);
	case ST_RING1:
	case ST_RING1_AGAIN:
		return env_start_ring(e, 1, f->tap);
	case ST_RING0:
		return env_start_ring(e, 0, f->tap);
	case ST_SEND:
		guest_send(f, run);
		expect_sent(f, run);
		guest_receive(f, run);
		return 0;
	case ST_BASE1:
		return env_state(e, &e->owner, USV_VHOST_GET_VRING_BASE, 1, 0);
	case ST_DETACH1:
		return env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, 1, -1);
	case ST_RESET:
		return env_ioctl(e, &e->owner, USV_VHOST_RESET_OWNER, NULL, 0);
	case ST_RELEASE:
		return usv_devlist_remove(&e->list, e->handle);
	default:
		return -EINVAL;
	}
}

/* Runs the sequence on a new device with call fail_at failing (0: none).
 * Returns the calls counted. */
static unsigned run_sequence(struct fx *f, unsigned fail_at)
{
	struct env *e = &f->e;
	enum step failed_step = ST_N;
	int fds0 = count_open_fds(), threads0 = count_threads();
	unsigned counted;

	guest_reset(e);
	/* The open's own allocations: test_alloc_failures. */
	assert_int_equal(usv_devlist_add(&e->list, &e->handle), 0);
	e->dev = usv_devlist_get(&e->list, e->handle);
	fault_arm(fail_at);
	for (enum step s = 0; s < ST_N; s++) {
		int fds = count_open_fds(), threads = count_threads(), ret, want;
		unsigned failed = fault.failed;

		ret = run_step(f, s, fail_at);
		if (ret == 0 && fault.failed == failed)
			continue;
		want = fault.failed != failed ? kind_answer[fault.failed_kind] : 0;
		if (ret != want || failed_step != ST_N)
			fail_msg("call %u failing (%s): %s answered %d (%s), expected %d (%s)",
				 fail_at, fault.failed != failed ?
				 kind_name[fault.failed_kind] : "none yet", step_name[s], ret,
				 strerror(-ret), want, strerror(-want));
		failed_step = s;
		if (want == 0)
			continue; /* done without it; the rest proves it works */
		/* Nothing half-started: no new thread, no fd kept. */
		if (threads_settled(threads) != threads || count_open_fds() != fds)
			fail_msg("call %u (%s) failing: after %s answered %d, %d threads "
				 "and %d fds (before it: %d and %d)", fail_at,
				 kind_name[fault.failed_kind], step_name[s], ret,
				 count_threads(), count_open_fds(), threads, fds);
		/* Sent again, with every resource to spare, it succeeds. */
		fault.fail_at = 0;
		ret = run_step(f, s, fail_at);
		if (ret)
			fail_msg("call %u (%s): %s failed, then answered %d (%s) when sent "
				 "again", fail_at, kind_name[fault.failed_kind], step_name[s],
				 ret, strerror(-ret));
	}
	counted = fault.count;
	fault_disarm();
	if (fail_at && failed_step == ST_N)
		fail_msg("call %u of the sequence failed and no request said so", fail_at);
	if (threads_settled(threads0) != threads0 || count_open_fds() != fds0)
		fail_msg("call %u failing: after the release, %d threads and %d fds "
			 "(at the start: %d and %d)", fail_at, count_threads(),
			 count_open_fds(), threads0, fds0);
	return counted;
}

static void every_call_fails_in_turn(struct fx *f)
{
	unsigned total, by_kind[K_N];

	if (f->tap < 0)
		skip();
	memset(fault.seen, 0, sizeof(fault.seen));
	total = run_sequence(f, 0);
	memcpy(by_kind, fault.seen, sizeof(by_kind));
	/* One worker: its eventfd, its io_uring, its thread; the rings'
	 * buffers and the device's state among the allocations. With shared
	 * RAM the device has a node: its state is mapped there and its worker
	 * pinned to the node's CPUs. */
	assert_int_equal(libnuma_allocating_calls, 0);
	assert_int_equal(by_kind[K_EVENTFD], 1);
	assert_int_equal(by_kind[K_URING], 1);
	assert_int_equal(by_kind[K_THREAD], 1);
	assert_int_equal(by_kind[K_NODE_MEM], f->shared_ram);
	assert_int_equal(by_kind[K_NODE_CPUS], f->shared_ram);
	assert_true(by_kind[K_ALLOC] >= (f->shared_ram ? 0 : 1) + 2 * 3 + 2 + 1);
	for (unsigned n = 1; n <= total; n++)
		run_sequence(f, n);
	print_message("%s RAM: each of the sequence's %u calls failed in turn (%u "
		      "allocations, %u eventfd, %u io_uring_queue_init, %u pthread_create, "
		      "%u node-local mmap, %u node cpulist open), each answered at its "
		      "request, left nothing behind, and recovered\n",
		      f->shared_ram ? "shared" : "anonymous", total, by_kind[K_ALLOC],
		      by_kind[K_EVENTFD], by_kind[K_URING], by_kind[K_THREAD],
		      by_kind[K_NODE_MEM], by_kind[K_NODE_CPUS]);
}

static void anonymous_ram_every_acquisition_on_the_way_up_can_fail(void **state)
{
	every_call_fails_in_turn(*state);
}

static void shared_ram_on_a_node_every_acquisition_on_the_way_up_can_fail(void **state)
{
	every_call_fails_in_turn(*state);
}

/* usvhostd's start: the datapath with a stats file. Each of its calls fails
 * in turn: usv_dp_create answers the failure and leaves no thread or fd. */
static void creating_the_datapath_survives_every_call_failing(void **state)
{
	char path[] = "/tmp/usv-dp-failures-stats-XXXXXX", tmpname[sizeof(path) + 4];
	struct usv_dp_config cfg = { .stats_path = path };
	int fds0 = count_open_fds(), threads0 = count_threads(), ret, tmp;
	unsigned n, sites = 0, kinds = 0;
	struct usv_dp *dp;
	sigset_t set, old;

	(void)state;
	tmp = mkstemp(path);
	assert_true(tmp >= 0);
	close(tmp);
	/* As usvhostd does before any thread starts: SIGUSR1 is read through
	 * the stats writer's signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (n = 1;; n++) {
		fault_arm(n);
		ret = usv_dp_create(&cfg, &dp);
		fault_disarm();
		if (!fault.failed) {
			/* Fewer than n calls: every one has failed. */
			assert_int_equal(ret, 0);
			assert_int_equal(threads_settled(threads0 + 1), threads0 + 1); /* usv-stats */
			usv_dp_destroy(dp);
			break;
		}
		sites++;
		kinds |= 1u << fault.failed_kind;
		/* The daemon only logs it and exits: the call's own errno. */
		check_ret(ret, fault.failed_kind == K_THREAD ? -EAGAIN :
			  kind_answer[fault.failed_kind], "usv_dp_create with call %u (%s) "
			  "failing", n, kind_name[fault.failed_kind]);
		assert_int_equal(threads_settled(threads0), threads0);
		assert_int_equal(count_open_fds(), fds0);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	unlink(path);
	snprintf(tmpname, sizeof(tmpname), "%s.tmp", path);
	unlink(tmpname);
	assert_int_equal(threads_settled(threads0), threads0);
	assert_int_equal(count_open_fds(), fds0);
	/* calloc, strdup, eventfd, signalfd, pthread_create. */
	assert_true(sites >= 5);
	assert_int_equal(kinds, (1u << K_ALLOC) | (1u << K_EVENTFD) | (1u << K_SIGNALFD) |
				(1u << K_THREAD));
	print_message("creating the datapath: %u calls, each failed in turn\n", sites);
}

/* The control socket's counters: a copy that cannot be made is ENOMEM. */
static void collecting_stats_without_memory_is_enomem(void **state)
{
	struct fx *f = *state;
	struct usv_dp_ring_stats *s = NULL;
	unsigned n = 0;
	int ret;

	fault_arm(1);
	ret = usv_dp_stats_collect(f->dp, &s, &n);
	fault_disarm();
	assert_int_equal(ret, -ENOMEM);
	assert_null(s);
	assert_int_equal(usv_dp_stats_collect(f->dp, &s, &n), 0);
	assert_int_equal(n, 2); /* no device: the released totals */
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(anonymous_ram_every_acquisition_on_the_way_up_can_fail,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			shared_ram_on_a_node_every_acquisition_on_the_way_up_can_fail,
			fx_setup_shared, fx_teardown),
		cmocka_unit_test(creating_the_datapath_survives_every_call_failing),
		cmocka_unit_test_setup_teardown(collecting_stats_without_memory_is_enomem,
						fx_setup, fx_teardown),
	};

	/* A private network namespace for the tap, when we may. */
	if (unshare(CLONE_NEWNET))
		print_message("unshare(CLONE_NEWNET): %s: the tap cases skip\n",
			      strerror(errno));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
