/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ioctl dispatcher (usv_ioctl_dispatch) and the core
 * behind it, driven by a caller that sends any sequence of ioctls with any
 * payloads to one device, opening and releasing it in between.
 *
 * The caller's memory is a buffer served at a fake address (as the unit
 * tests' fixture does); the caller is this very process, so SET_OWNER pins
 * us. Two things in a payload would reach beyond the core, and are rewritten
 * before the request is served:
 *   - fd numbers (SET_LOG_FD, SET_VRING_KICK/CALL/ERR, NET_SET_BACKEND) map to
 *     fds made here, by n % 10: 0-3 four eventfds, 4-5 a pipe's ends, 6 a
 *     detached tun fd, 7 an AF_PACKET socket (those two when this process may
 *     open them), 8-9 a number no fd has; negative numbers stay as they are.
 *     Never any other fd of ours.
 *   - owner addresses (memory regions' userspace_addr, ring addresses,
 *     SET_LOG_BASE) below USV_TASK_SIZE_MAX map into a sealed memfd mapped
 *     here (the guest RAM a VM would share), keeping their low 12 bits;
 *     addresses above stay as they are (access_ok refuses them).
 * The datapath is a fake that answers ring_start as the input says.
 *
 * Input: a setup byte, then operations until the input ends.
 *   setup: bits 0-2 profile (index in usv_profile_list), bit 3 the trace
 *          recorder watches (writing to /dev/null), bit 4 an --inject rule
 *          follows: u8 len, then the rule's text
 *   operation: u8 op, then
 *     op % 8 in 0..4: u8 row (the ioctl table's numbers, then a few unknown
 *                     ones), u16 len, len payload bytes
 *     op % 8 == 5:    u32 ioctl number, u16 len, payload
 *     op % 8 == 6:    release the device and open it again
 *     op % 8 == 7:    u8 len, bytes: write() then read() and poll() on it
 *     op / 8: bits 0-1 the caller (0 the owner process, 1 one of its threads
 *             by tid only, 2 a process that does not exist, 3 a thread that
 *             does not exist), bits 2-3 where arg points (0 the payload,
 *             1 the payload at the end of the caller's memory so reads past
 *             it fault, 2 a u64 address from the input, 3 the payload, served
 *             as a CUSE front does: the first round reaches only the fixed
 *             part, later rounds everything), bit 4: the datapath refuses
 *             the next ring_start.
 *
 * Checked beyond memory safety: a round answered USV_ERETRY changed nothing
 * in the device (the CUSE front replays it); no fd is left open at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/devlist.h"
#include "core/inject.h"
#include "core/dispatch.h"
#include "core/ioctl_table.h"
#include "core/log.h"
#include "core/observer.h"
#include "core/profile.h"
#include "core/request.h"
#include "core/vhost_chr.h"
#include "trace/recorder.h"
#include "usvhost/vhost_abi.h"
#include "fuzz.h"

#define UFAKE_BASE 0x10000000ULL
#define UFAKE_SIZE 16384u
#define MAX_OPS 64
#define MAX_ROUNDS 4
/* Guest RAM the caller shares: a sealed memfd, mapped here. */
#define SANDBOX_SIZE (256u * 1024)
#define SANDBOX_SPAN (SANDBOX_SIZE - 4096u) /* room for a used ring's head */
/* No process has this pid: PID_MAX_LIMIT is 2^22. */
#define NO_SUCH_PID 0x7ffffff0

struct ufake {
	uint8_t buf[UFAKE_SIZE];
	size_t reachable; /* bytes from UFAKE_BASE served now; past: ERETRY */
};

#define NFDS 8

struct fz {
	struct ufake u;
	int fds[NFDS];  /* what fd fields map to; -1 where unavailable */
	int memfd;
	uint8_t *sandbox;
	FILE *devnull;
	uint32_t cmds[64];
	unsigned ncmds;
	bool fail_start;
	bool verbose; /* FUZZ_VERBOSE=1: each request and its answer on stderr */
};

static struct fz *fz;

/* ---- the caller's memory ---------------------------------------------------- */

static int ufake_check(uint64_t addr, size_t len)
{
	uint64_t off;

	if (len == 0)
		return 0;
	if (addr < UFAKE_BASE)
		return -EFAULT;
	off = addr - UFAKE_BASE;
	if (off >= UFAKE_SIZE || len > UFAKE_SIZE - off)
		return -EFAULT;
	if (off + len > fz->u.reachable)
		return -USV_ERETRY;
	return 0;
}

static int ufake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	int ret = ufake_check(addr, len);

	(void)ctx;
	if (!ret && len)
		memcpy(buf, fz->u.buf + (addr - UFAKE_BASE), len);
	return ret;
}

static int ufake_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	int ret = ufake_check(addr, len);

	(void)ctx;
	if (!ret && len)
		memcpy(fz->u.buf + (addr - UFAKE_BASE), buf, len);
	return ret;
}

static const struct usv_uaccess ufake_ops = {
	.read = ufake_read,
	.write = ufake_write,
};

/* ---- a datapath that does nothing -------------------------------------------- */

static int dp_start(void *ctx, struct usv_dev *dev, const struct usv_ring_config *cfg)
{
	(void)ctx;
	(void)dev;
	(void)cfg;
	if (!fz->fail_start)
		return 0;
	fz->fail_start = false;
	return -EIO;
}

static const struct usv_datapath_ops fake_dp = {
	.ring_start = dp_start,
	.ring_stop = fuzz_dp_stop,
	.ring_update = fuzz_dp_update,
	.ring_sync = fuzz_dp_stop,
};

/* ---- setup ------------------------------------------------------------------ */

static void add_cmd(uint32_t cmd)
{
	if (fz->ncmds < sizeof(fz->cmds) / sizeof(fz->cmds[0]))
		fz->cmds[fz->ncmds++] = cmd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct usv_ioctl_desc *rows;
	unsigned nrows;
	int p[2];

	(void)argc;
	(void)argv;
	usv_log_setup(USV_LOG_ERR, false);
	fz = calloc(1, sizeof(*fz));
	if (!fz)
		abort();
	fz->verbose = getenv("FUZZ_VERBOSE") && strcmp(getenv("FUZZ_VERBOSE"), "0");
	for (unsigned i = 0; i < 4; i++)
		fz->fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pipe2(p, O_CLOEXEC))
		abort();
	fz->fds[4] = p[0];
	fz->fds[5] = p[1];
	/* Backends NET_SET_BACKEND accepts; either may be refused us. */
	fz->fds[6] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	fz->fds[7] = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	fz->memfd = memfd_create("fuzz-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fz->memfd < 0 || ftruncate(fz->memfd, SANDBOX_SIZE) ||
	    fcntl(fz->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		abort();
	fz->sandbox = mmap(NULL, SANDBOX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fz->memfd, 0);
	if (fz->sandbox == MAP_FAILED)
		abort();
	fz->devnull = fopen("/dev/null", "we");
	if (!fz->devnull)
		abort();
	rows = usv_ioctl_rows(&nrows);
	for (unsigned i = 0; i < nrows; i++)
		add_cmd(rows[i].cmd);
	/* Numbers vhost-net does not know. */
	add_cmd(0);
	add_cmd(_IO(USV_VHOST_VIRTIO, 0x7f));
	add_cmd(0xc3ffaf99);           /* the largest _IOC size */
	add_cmd(0x400454ca);           /* TUNSETIFF */
	add_cmd(_IOW(USV_VHOST_VIRTIO, 0x70, uint64_t)); /* a vdpa number */
	return 0;
}

/* ---- payload rewriting ------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void fix_fd(uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	if (v < 0)
		return; /* -1 unbinds; other negatives are never fds */
	if (v % 10 < NFDS && fz->fds[v % 10] >= 0)
		v = fz->fds[v % 10];
	else
		v = 0x3ffffff0; /* above any fd limit: EBADF */
	memcpy(p, &v, sizeof(v));
}

static void fix_addr(uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	if (v >= USV_TASK_SIZE_MAX)
		return;
	v = (uint64_t)(uintptr_t)fz->sandbox + v % SANDBOX_SPAN;
	memcpy(p, &v, sizeof(v));
}

/* Rewrites what lies at p (room bytes up to the end of the caller's memory)
 * for cmd: see the header comment. */
static void fix_payload(uint32_t cmd, uint8_t *p, size_t room)
{
	switch (cmd) {
	case USV_VHOST_SET_LOG_FD:
		if (room >= 4)
			fix_fd(p);
		break;
	case USV_VHOST_SET_VRING_KICK:
	case USV_VHOST_SET_VRING_CALL:
	case USV_VHOST_SET_VRING_ERR:
	case USV_VHOST_NET_SET_BACKEND:
		if (room >= 8)
			fix_fd(p + 4);
		break;
	case USV_VHOST_SET_LOG_BASE:
		if (room >= 8)
			fix_addr(p);
		break;
	case USV_VHOST_SET_VRING_ADDR:
		for (size_t off = 8; off <= 24 && off + 8 <= room; off += 8)
			fix_addr(p + off);
		break;
	case USV_VHOST_SET_MEM_TABLE:
		if (room < 8)
			break;
		for (uint64_t i = 0; i < get32(p) && 8 + 32 * (i + 1) <= room; i++)
			fix_addr(p + 8 + 32 * i + 16);
		break;
	}
}

/* ---- one request ---------------------------------------------------------------- */

/* The device state a CUSE retry round must leave as it found it. */
struct dev_snap {
	struct usv_owner owner;
	uint64_t acked[USV_FEATURES_DWORDS];
	uint64_t acked_backend;
	const void *mem;
	int log_fd;
	struct usv_vq vqs[USV_NET_NVQS];
};

static void snap(const struct usv_dev *dev, struct dev_snap *s)
{
	memset(s, 0, sizeof(*s));
	s->owner = dev->owner;
	memcpy(s->acked, dev->acked_features, sizeof(s->acked));
	s->acked_backend = dev->acked_backend_features;
	s->mem = dev->mem;
	s->log_fd = dev->log_fd;
	memcpy(s->vqs, dev->vqs, sizeof(s->vqs));
}

static void caller_of(unsigned who, struct usv_caller *c)
{
	switch (who) {
	case 0:
		*c = (struct usv_caller){ .tid = getpid(), .tgid = getpid() };
		break;
	case 1:
		*c = (struct usv_caller){ .tid = gettid(), .tgid = 0 };
		break;
	case 2:
		*c = (struct usv_caller){ .tid = NO_SUCH_PID, .tgid = NO_SUCH_PID };
		break;
	default:
		*c = (struct usv_caller){ .tid = NO_SUCH_PID, .tgid = 0 };
		break;
	}
}

static void do_ioctl(struct usv_dev *dev, uint32_t cmd, unsigned flags, struct fin *in)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(cmd);
	unsigned mode = (flags >> 2) & 3;
	uint64_t arg = UFAKE_BASE;
	size_t len = fin_u16(in) % (UFAKE_SIZE + 1), off = 0;
	struct usv_caller caller;
	struct usv_req req;
	char text[512], out[256];
	int ret = 0;

	caller_of(flags & 3, &caller);
	memset(fz->u.buf, 0, sizeof(fz->u.buf));
	if (mode == 1)
		off = UFAKE_SIZE - len;
	len = fin_bytes(in, fz->u.buf + off, len);
	if (mode == 2)
		arg = fin_u64(in);
	else
		arg = UFAKE_BASE + off;
	fix_payload(cmd, fz->u.buf + off, UFAKE_SIZE - off);
	fz->u.reachable = UFAKE_SIZE;
	if (mode == 3)
		fz->u.reachable = d ? d->in_size : 4;
	for (unsigned round = 0; round < MAX_ROUNDS; round++) {
		struct dev_snap before, after;

		snap(dev, &before);
		usv_req_init(&req, cmd, arg, &caller, &ufake_ops, NULL);
		ret = usv_ioctl_dispatch(dev, &req);
		if (ret != -USV_ERETRY)
			break;
		snap(dev, &after);
		FUZZ_ASSERT(!memcmp(&before, &after, sizeof(before)),
			    "ioctl 0x%08x changed the device in a round it answered "
			    "USV_ERETRY", cmd);
		fz->u.reachable = UFAKE_SIZE; /* the front fetched what it asked */
	}
	FUZZ_ASSERT(ret != -USV_ERETRY, "ioctl 0x%08x still asks for memory after "
		    "everything was reachable", cmd);
	FUZZ_ASSERT(ret <= 0, "ioctl 0x%08x answered %d", cmd, ret);
	/* What the daemon's debug log and the trace show of it. */
	usv_ioctl_describe(&req, text, sizeof(text));
	out[0] = '\0';
	if (!ret)
		usv_ioctl_describe_out(&req, out, sizeof(out));
	if (fz->verbose)
		fprintf(stderr, "fuzz_ioctl: caller %u arg mode %u: %s -> %d (%s) %s\n",
			flags & 3, mode, text, ret, strerror(-ret), out);
}

/* ---- one input -------------------------------------------------------------------- */

static void reopen(struct usv_devlist *list, unsigned *handle)
{
	struct usv_obs_event ev = { .kind = USV_OBS_OPEN, .tid = gettid() };

	if (usv_devlist_remove(list, *handle) || usv_devlist_add(list, handle))
		abort();
	ev.handle = *handle;
	ev.open_count = usv_devlist_count(list);
	usv_devlist_observe(list, &ev);
}

static void chr(struct usv_dev *dev, struct fin *in)
{
	uint8_t buf[255];
	size_t n = fin_bytes(in, buf, fin_u8(in));

	usv_chr_write(dev, buf, n);
	/* Never blocking: a fuzz input must not wait for a message. */
	usv_chr_read(dev, buf, n, true, NULL, NULL);
	usv_chr_poll(dev, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	const struct usv_profile *profiles;
	struct usv_trace_info info = { .producer = "fuzz_ioctl", .transport = "fuse",
				       .device = "/fuzz/vhost-net" };
	struct usv_trace *trace = NULL;
	struct usv_inject inject;
	struct usv_devlist list;
	unsigned nprofiles, handle;
	uint8_t setup = fin_u8(&in);
	int nfds = fuzz_open_fds(), now;

	memset(fz->sandbox, 0, SANDBOX_SIZE);
	fz->fail_start = false;
	profiles = usv_profile_list(&nprofiles);
	info.profile = &profiles[(setup & 7) % nprofiles];
	usv_inject_init(&inject);
	if (setup & 16) {
		char spec[256], err[160], warning[160];

		spec[fin_bytes(&in, spec, fin_u8(&in))] = '\0';
		usv_inject_add(&inject, spec, err, sizeof(err), warning, sizeof(warning));
		info.inject = &inject;
	}
	if (usv_devlist_init(&list, info.profile, &fake_dp, NULL))
		abort();
	if (setup & 8) {
		trace = usv_trace_open_stream(fz->devnull, &info);
		if (trace)
			usv_devlist_set_observer(&list, &usv_trace_observer, trace);
	}
	usv_devlist_set_inject(&list, &inject);
	if (usv_devlist_add(&list, &handle))
		abort();
	for (unsigned op = 0; op < MAX_OPS && !fin_empty(&in); op++) {
		uint8_t k = fin_u8(&in);
		struct usv_dev *dev = usv_devlist_get(&list, handle);
		unsigned flags = k >> 3;

		if (flags & 16)
			fz->fail_start = true;
		switch (k & 7) {
		case 5:
			do_ioctl(dev, fin_u32(&in), flags, &in);
			break;
		case 6:
			reopen(&list, &handle);
			break;
		case 7:
			chr(dev, &in);
			break;
		default:
			do_ioctl(dev, fz->cmds[fin_u8(&in) % fz->ncmds], flags, &in);
			break;
		}
	}
	usv_devlist_destroy(&list);
	usv_trace_close(trace);
	usv_inject_destroy(&inject);
	now = fuzz_open_fds();
	FUZZ_ASSERT(now == nfds, "%d fds open after the input, %d before", now, nfds);
	return 0;
}
