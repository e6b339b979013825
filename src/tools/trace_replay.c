/* SPDX-License-Identifier: MIT */
/*
 * usvhost-trace replay FILE --device PATH: opens a vhost-net device (one of
 * usvhostd's, or the kernel's /dev/vhost-net), re-issues the recorded
 * control sequence with fresh eventfds, memory and taps, and reports every
 * answer that differs from the recording.
 *
 * What is made fresh:
 *   memory   each recorded region gets a mapping of its size: a memfd
 *            (MAP_SHARED) when the recording mapped it (strategy mmap),
 *            anonymous private memory otherwise; ring and region addresses
 *            are translated into it, keeping their offsets;
 *   eventfds one per recorded fd number that was an eventfd;
 *   taps     one per recorded tap fd number, with the recorded IFF_ flags
 *            (interface usvrpN, down); packet sockets likewise;
 *   bad fds  a number that is not open here; other files: /dev/null.
 * Calls recorded from another process than the trace's first run in a child
 * process (so that a non-owner still gets EPERM). Calls that were answered
 * by --inject are not re-issued: they changed nothing where recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "core/bytes.h"
#include "core/errno_name.h"
#include "core/ioctl_table.h"
#include "tools/tool.h"
#include "trace/payload.h"
#include "usvhost/vhost_abi.h"

#define MAX_DEVS 64
#define MAX_FDS 256
#define MAX_MAPS 256
#define ARGBUF 16384
#define MAX_HELPERS 32

struct rdev {
	int64_t handle; /* recorded */
	int fd;         /* ours, -1 closed */
	/* Did ring i run (attach) since its last SET_VRING_BASE, in the recording? */
	bool ran[USV_NET_NVQS];
};

struct rfd {
	int64_t num;   /* recorded fd number */
	char kind[16]; /* recorded kind */
	unsigned flags;
	int fd;        /* ours */
};

struct rmap {
	uint64_t uaddr, size; /* recorded */
	uint8_t *base;        /* ours */
	bool shared;
};

struct replay {
	const char *device;
	bool strict, json, verbose;
	struct rdev devs[MAX_DEVS];
	unsigned ndevs;
	struct rfd fds[MAX_FDS];
	unsigned nfds;
	struct rmap maps[MAX_MAPS];
	unsigned nmaps;
	struct { uint64_t addr; uint8_t *base; size_t size; } logs[16];
	unsigned nlogs;
	int64_t main_tgid;
	uint8_t *area;        /* ARGBUF bytes, then a PROT_NONE guard page */
	uint8_t *bad_page;    /* the guard: an argument the kernel cannot read */
	struct counts {
		unsigned replayed, divergences, skipped, uncompared;
	} c;
	unsigned taps;
	struct helper {
		int64_t tgid;
		pid_t pid;
		int sock;
	} helpers[MAX_HELPERS];
	unsigned nhelpers;
	const struct trace *t;
};

static struct rdev *dev_of(struct replay *rp, int64_t handle, bool open_it)
{
	struct rdev *d = NULL;

	for (unsigned i = 0; i < rp->ndevs; i++)
		if (rp->devs[i].handle == handle)
			d = &rp->devs[i];
	if (!d && rp->ndevs < MAX_DEVS) {
		d = &rp->devs[rp->ndevs++];
		memset(d, 0, sizeof(*d));
		d->handle = handle;
		d->fd = -1;
	}
	if (d && d->fd < 0 && open_it) {
		d->fd = open(rp->device, O_RDWR | O_CLOEXEC);
		if (d->fd < 0)
			fprintf(stderr, "usvhost-trace replay: open %s: %s\n", rp->device,
				strerror(errno));
	}
	return d;
}

/* ---- fresh resources -------------------------------------------------------- */

static int make_tap(struct replay *rp, unsigned flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "usvhost-trace replay: /dev/net/tun: %s (a tap is needed "
			"for NET_SET_BACKEND)\n", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(flags & (IFF_TAP | IFF_TUN | IFF_NO_PI | IFF_VNET_HDR |
					 IFF_MULTI_QUEUE));
	if (!(ifr.ifr_flags & (IFF_TAP | IFF_TUN)))
		ifr.ifr_flags |= IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "usvrp%%d");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "usvhost-trace replay: TUNSETIFF: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	rp->taps++;
	return fd;
}

/* A number that is no open fd here. */
static int closed_fd(void)
{
	for (int fd = 4000; fd < 1 << 20; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			return fd;
	return 1 << 20;
}

/* Our fd for recorded fd number num, described by file (or NULL). */
static int fresh_fd(struct replay *rp, int64_t num, json_object *file)
{
	const char *kind = usv_tj_str(file, "kind");
	uint64_t flags = 0;
	struct rfd *f = NULL;

	if (num == -1)
		return -1;
	if (!kind)
		kind = "bad";
	usv_tj_u64(file, "flags", &flags);
	for (unsigned i = 0; i < rp->nfds; i++)
		if (rp->fds[i].num == num)
			f = &rp->fds[i];
	if (!strcmp(kind, "bad"))
		return closed_fd(); /* not open in the caller: not open here */
	if (f && !strcmp(f->kind, kind) && f->flags == (unsigned)flags)
		return f->fd;
	if (!f) {
		if (rp->nfds == MAX_FDS)
			return closed_fd();
		f = &rp->fds[rp->nfds++];
	} else if (f->fd >= 0) {
		close(f->fd); /* the recorded number now names another file */
	}
	f->num = num;
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	f->flags = (unsigned)flags;
	if (!strcmp(kind, "eventfd"))
		f->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	else if (!strcmp(kind, "tap"))
		f->fd = make_tap(rp, (unsigned)flags);
	else if (!strcmp(kind, "tun-detached"))
		f->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	else if (!strcmp(kind, "packet"))
		f->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	else if (!strcmp(kind, "socket"))
		f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	else if (!strcmp(kind, "memfd"))
		f->fd = memfd_create("usvhost-replay", MFD_CLOEXEC);
	else if (!strcmp(kind, "bad"))
		f->fd = -1;
	else
		f->fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	return f->fd >= 0 ? f->fd : closed_fd();
}

/* The strategy the recording chose for the region at uaddr (memory events). */
static bool recorded_mmap(const struct trace *t, uint64_t uaddr)
{
	for (size_t i = 0; i < t->n; i++) {
		json_object *regs;

		if (strcmp(t->recs[i].type, "memory") || !(regs = usv_tj_arr(t->recs[i].o, "regions")))
			continue;
		for (size_t k = 0; k < json_object_array_length(regs); k++) {
			json_object *g = json_object_array_get_idx(regs, k);
			uint64_t u;
			const char *s = usv_tj_str(g, "strategy");

			if (usv_tj_u64(g, "uaddr", &u) && u == uaddr && s)
				return !strcmp(s, "mmap");
		}
	}
	return false;
}

static uint8_t *fresh_region(struct replay *rp, uint64_t uaddr, uint64_t size)
{
	struct rmap *m;
	void *p;

	for (unsigned i = 0; i < rp->nmaps; i++)
		if (rp->maps[i].uaddr == uaddr && rp->maps[i].size == size)
			return rp->maps[i].base;
	/* Only a range a process can map is re-created: a recorded address
	 * the kernel refused (not a user address) stays as it was. */
	if (rp->nmaps == MAX_MAPS || !size || size > (1ULL << 40) ||
	    uaddr + size < uaddr || uaddr + size > USV_TASK_SIZE_MAX || uaddr < 4096)
		return NULL;
	m = &rp->maps[rp->nmaps];
	m->shared = recorded_mmap(rp->t, uaddr);
	if (m->shared) {
		int fd = memfd_create("usvhost-replay-ram", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, (off_t)size)) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
		close(fd);
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (p == MAP_FAILED)
		return NULL;
	m->uaddr = uaddr;
	m->size = size;
	m->base = p;
	rp->nmaps++;
	return p;
}

/* A recorded QEMU address, translated into our memory (kept if unknown). */
static uint64_t translate(const struct replay *rp, uint64_t addr)
{
	for (unsigned i = rp->nmaps; i-- > 0;) {
		const struct rmap *m = &rp->maps[i];

		if (addr >= m->uaddr && addr - m->uaddr < m->size)
			return (uint64_t)(uintptr_t)m->base + (addr - m->uaddr);
	}
	return addr;
}

static uint64_t fresh_log(struct replay *rp, uint64_t addr)
{
	uint64_t top = 0;
	size_t size;
	void *p;

	if (!addr)
		return 0;
	for (unsigned i = 0; i < rp->nlogs; i++)
		if (rp->logs[i].addr == addr)
			return (uint64_t)(uintptr_t)rp->logs[i].base;
	if (rp->nlogs == 16)
		return addr;
	for (unsigned i = 0; i < rp->nmaps; i++)
		if (rp->maps[i].size > top)
			top = rp->maps[i].size;
	size = (size_t)(top / 4096 / 8 + 8) * 4 + 4096; /* generous: gpa layout unknown */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return addr;
	rp->logs[rp->nlogs].addr = addr;
	rp->logs[rp->nlogs].base = p;
	rp->logs[rp->nlogs].size = size;
	rp->nlogs++;
	return (uint64_t)(uintptr_t)p;
}

/* ---- building the argument ------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint64_t u64_of(json_object *o, const char *k)
{
	uint64_t v = 0;

	usv_tj_u64(o, k, &v);
	return v;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A recorded fd or address, made fresh here (usv_tj_map_fn). */
static uint64_t fresh_value(void *ctx, const struct usv_ioctl_field *f, uint64_t v,
			    uint64_t size, json_object *holder)
{
	struct replay *rp = ctx;
	uint8_t *base;

	switch (f->kind) {
	case USV_FK_FD:
		return (uint32_t)fresh_fd(rp, (int64_t)v, usv_tj_obj(holder, "file"));
	case USV_FK_UADDR:
		return translate(rp, v);
	case USV_FK_LOG_BASE:
		return fresh_log(rp, v);
	case USV_FK_REGION:
		base = fresh_region(rp, v, size);
		return base ? (uint64_t)(uintptr_t)base : v;
	default:
		return v;
	}
}

/* Fills buf with what the recorded call passed; false if it cannot tell. */
static bool build_arg(struct replay *rp, const struct rec *r, uint32_t cmd, uint8_t *buf)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(cmd);
	json_object *in = r->in;
	const char *raw;

	memset(buf, 0, ARGBUF);
	/* The unknown path's bytes (an ioctl unknown to the table or to the
	 * recording's profile), as they were. */
	if ((raw = usv_tj_str(in, "raw"))) {
		for (size_t i = 0; raw[2 * i] && raw[2 * i + 1] && i < ARGBUF; i++) {
			int hi = hexval(raw[2 * i]), lo = hexval(raw[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return false;
			buf[i] = (uint8_t)(hi << 4 | lo);
		}
		return true;
	}
	if (d) {
		usv_tj_payload_build(&d->in, in, buf, ARGBUF, fresh_value, rp);
		return true;
	}
	/* A number this table does not know, recorded without its bytes: a
	 * ring state is the likeliest. */
	put32(buf, (uint32_t)u64_of(in, "index"));
	put32(buf + 4, (uint32_t)u64_of(in, "num"));
	return true;
}

/* ---- issuing and comparing ----------------------------------------------- */

struct answer {
	int ret;   /* 0 or -1 */
	int err;   /* errno when -1 */
};

/*
 * The guard past the argument area is a hole while a call runs: unmapped,
 * not merely PROT_NONE, because /proc/PID/mem (usvhostd's FUSE front reads
 * arguments through it) ignores page protections. Mapped again after, so
 * that nothing else lands there.
 */
static struct answer issue(struct replay *rp, int fd, uint32_t cmd, uint8_t *arg)
{
	bool hole = arg >= rp->area && arg <= rp->bad_page;
	struct answer a;

	if (hole)
		munmap(rp->bad_page, 4096);
	a.ret = ioctl(fd, cmd, arg) < 0 ? -1 : 0;
	a.err = a.ret ? errno : 0;
	if (hole && mmap(rp->bad_page, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED)
		fprintf(stderr, "usvhost-trace replay: cannot re-reserve the guard page: %s\n",
			strerror(errno));
	return a;
}

static void report(struct replay *rp, const struct rec *r, const char *what,
		   const char *recorded, const char *replayed)
{
	rp->c.divergences++;
	if (rp->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "type", json_object_new_string("divergence"));
		json_object_object_add(o, "seq", json_object_new_int64(r->seq));
		json_object_object_add(o, "dev", json_object_new_int64(r->dev));
		json_object_object_add(o, "ioctl", json_object_new_string(r->ioctl ? r->ioctl : "?"));
		json_object_object_add(o, "what", json_object_new_string(what));
		json_object_object_add(o, "recorded", json_object_new_string(recorded));
		json_object_object_add(o, "replayed", json_object_new_string(replayed));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("DIVERGENCE #%" PRId64 " dev %" PRId64 " %s: %s: recorded %s, replayed %s\n",
		       r->seq, r->dev, r->ioctl ? r->ioctl : "?", what, recorded, replayed);
	}
}

static void answer_str(int ret, int err, char *buf, size_t len)
{
	if (!ret)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "-1 %s", usv_errno_name(err) ? usv_errno_name(err) : "E?");
}

static void app_field(char *buf, size_t len, const struct usv_ioctl_field *f, uint64_t v)
{
	size_t used = strlen(buf);

	if (used + 1 >= len)
		return;
	if (f->kind == USV_FK_INDEX || f->kind == USV_FK_U32 || f->kind == USV_FK_COUNT64)
		snprintf(buf + used, len - used, "%s%s=%" PRIu64, used ? " " : "", f->name, v);
	else
		snprintf(buf + used, len - used, "%s%s=0x%" PRIx64, used ? " " : "", f->name, v);
}

/* The ring a payload names (its USV_FK_INDEX field in o), or -1. */
static int64_t ring_of(const struct usv_ioctl_payload *pl, json_object *o)
{
	int64_t idx;

	for (unsigned i = 0; i < pl->nfields; i++)
		if (pl->fields[i].kind == USV_FK_INDEX && usv_tj_i64(o, pl->fields[i].name, &idx) &&
		    idx >= 0 && idx < USV_NET_NVQS)
			return idx;
	return -1;
}

/* Does the payload carry where the ring stands (USV_FF_RING_POS)? */
static bool has_ring_pos(const struct usv_ioctl_payload *pl)
{
	for (unsigned i = 0; i < pl->nfields; i++)
		if (pl->fields[i].flags & USV_FF_RING_POS)
			return true;
	return false;
}

/* Compares what the call wrote with what was recorded. */
static void compare_out(struct replay *rp, const struct rec *r, uint32_t cmd,
			const uint8_t *buf, struct rdev *d)
{
	const struct usv_ioctl_desc *row = usv_ioctl_lookup(cmd);
	const struct usv_ioctl_payload *pl = row ? &row->out : NULL;
	char a[256] = "", b[256] = "";
	bool differ = false;
	int64_t ring;
	uint64_t count;
	json_object *arr;

	if (!pl)
		return;
	ring = ring_of(pl, r->out);
	for (unsigned i = 0; i < pl->nfields && !pl->array; i++) {
		const struct usv_ioctl_field *f = &pl->fields[i];
		uint64_t want = u64_of(r->out, f->name), got = usv_ioctl_field_get(f, buf);

		if (f->flags & USV_FF_RING_POS && ring >= 0 && d->ran[ring] && !rp->strict) {
			/* Where the ring stood depends on the guest's traffic. */
			if (want != got)
				rp->c.uncompared++;
			return;
		}
		differ |= want != got;
	}
	for (unsigned i = 0; differ && i < pl->nfields; i++) {
		app_field(a, sizeof(a), &pl->fields[i], u64_of(r->out, pl->fields[i].name));
		app_field(b, sizeof(b), &pl->fields[i], usv_ioctl_field_get(&pl->fields[i], buf));
	}
	if (differ)
		report(rp, r, "output", a, b);
	if (!pl->array || !usv_ioctl_array_count(pl, buf, ARGBUF, &count))
		return;
	arr = usv_tj_arr(r->out, pl->array->name);
	for (size_t i = 0; arr && !pl->array->nelem && i < json_object_array_length(arr) &&
			   i < count && pl->array->off + (i + 1) * pl->array->elem_size <= ARGBUF;
	     i++) {
		json_object *w = json_object_new_object();
		uint64_t want, got = usv_get64(buf + pl->array->off + i * pl->array->elem_size);

		json_object_object_add(w, "v", json_object_get(json_object_array_get_idx(arr, i)));
		want = u64_of(w, "v");
		json_object_put(w);
		if (want != got) {
			snprintf(a, sizeof(a), "%s[%zu]=0x%" PRIx64, pl->array->name, i, want);
			snprintf(b, sizeof(b), "%s[%zu]=0x%" PRIx64, pl->array->name, i, got);
			report(rp, r, "output", a, b);
		}
	}
}

static uint32_t cmd_of(const struct rec *r)
{
	const char *c = usv_tj_str(r->o, "cmd");

	return c ? (uint32_t)strtoul(c, NULL, 0) : 0;
}

static void replay_ioctl(struct replay *rp, const struct rec *r, uint8_t *buf)
{
	uint32_t cmd = cmd_of(r);
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(cmd);
	struct rdev *dev = dev_of(rp, r->dev, true);
	int64_t idx, in_bytes = -1;
	bool reads;
	struct answer ans;
	uint8_t *arg;
	char a[128], b[128];

	if (!dev || dev->fd < 0)
		return;
	if (r->injected) {
		rp->c.skipped++;
		if (rp->verbose)
			printf("skip   #%" PRId64 " dev %" PRId64 " %s (answered by --inject)\n",
			       r->seq, r->dev, r->ioctl);
		return;
	}
	reads = d ? d->in_size > 0 : _IOC_SIZE(cmd) > 0 && (_IOC_DIR(cmd) & _IOC_WRITE);
	if (!usv_tj_i64(r->o, "in_bytes", &in_bytes))
		in_bytes = -1;
	if (!build_arg(rp, r, cmd, buf)) {
		arg = rp->bad_page;
	} else if (r->ret && r->err && !strcmp(r->err, "EFAULT") && in_bytes >= 0 &&
		   in_bytes <= ARGBUF) {
		/* It faulted reading past in_bytes: only those are readable. */
		arg = rp->bad_page - in_bytes;
		memmove(arg, buf, (size_t)in_bytes);
	} else if (!r->in && reads && in_bytes < 0) {
		arg = rp->bad_page; /* a trace without in_bytes */
	} else {
		arg = buf;
	}
	ans = issue(rp, dev->fd, cmd, arg);
	rp->c.replayed++;
	if (rp->verbose) {
		answer_str(ans.ret, ans.err, a, sizeof(a));
		printf("replay #%" PRId64 " dev %" PRId64 " %s = %s\n", r->seq, r->dev,
		       r->ioctl ? r->ioctl : "?", a);
	}
	/* A call that set where the ring stands: it stands where the trace says. */
	if (d && has_ring_pos(&d->in) && !r->ret && r->in &&
	    (idx = ring_of(&d->in, r->in)) >= 0)
		dev->ran[idx] = false;
	if ((ans.ret ? -1 : 0) != r->ret ||
	    (ans.ret && (!r->err || !usv_errno_name(ans.err) ||
			 strcmp(r->err, usv_errno_name(ans.err))))) {
		answer_str((int)r->ret, 0, a, sizeof(a));
		if (r->ret)
			snprintf(a, sizeof(a), "-1 %s", r->err ? r->err : "?");
		answer_str(ans.ret, ans.err, b, sizeof(b));
		report(rp, r, "answer", a, b);
		return;
	}
	if (!ans.ret && r->out)
		compare_out(rp, r, cmd, arg, dev);
}

static void replay_event(struct replay *rp, const struct rec *r)
{
	struct rdev *dev;
	int64_t idx;

	if (!strcmp(r->type, "open")) {
		dev = dev_of(rp, r->dev, false);
		if (dev && dev->fd >= 0)
			close(dev->fd); /* a reused handle: the old open is gone */
		if (dev) {
			dev->fd = -1;
			memset(dev->ran, 0, sizeof(dev->ran));
			dev_of(rp, r->dev, true);
		}
	} else if (!strcmp(r->type, "release")) {
		dev = dev_of(rp, r->dev, false);
		if (dev && dev->fd >= 0) {
			close(dev->fd);
			dev->fd = -1;
		}
	} else if (!strcmp(r->type, "attach")) {
		dev = dev_of(rp, r->dev, false);
		if (dev && usv_tj_i64(r->o, "index", &idx) && idx >= 0 && idx < USV_NET_NVQS)
			dev->ran[idx] = true;
	}
}

static void handle(struct replay *rp, size_t i, uint8_t *buf)
{
	const struct rec *r = &rp->t->recs[i];

	if (!strcmp(r->type, "ioctl"))
		replay_ioctl(rp, r, buf);
	else
		replay_event(rp, r);
}

/* The process a record belongs to: ioctls and opens say; 0 for the rest. */
static int64_t rec_tgid(const struct rec *r)
{
	int64_t tgid = 0;

	if (!strcmp(r->type, "ioctl") || !strcmp(r->type, "open"))
		usv_tj_i64(r->o, "tgid", &tgid);
	return tgid;
}

static unsigned count_devs(const struct trace *t)
{
	int64_t seen[MAX_DEVS];
	unsigned n = 0;

	for (size_t i = 0; i < t->n; i++) {
		unsigned k;

		if (t->recs[i].dev < 0)
			continue;
		for (k = 0; k < n && seen[k] != t->recs[i].dev; k++)
			;
		if (k == n && n < MAX_DEVS)
			seen[n++] = t->recs[i].dev;
	}
	return n;
}

/* In a helper: serve record indexes until -1. */
static void helper_loop(struct replay *rp, int sock, uint8_t *buf)
{
	int64_t i;

	while (recv(sock, &i, sizeof(i), 0) == sizeof(i) && i >= 0 &&
	       (size_t)i < rp->t->n) {
		memset(&rp->c, 0, sizeof(rp->c));
		handle(rp, (size_t)i, buf);
		fflush(stdout);
		if (send(sock, &rp->c, sizeof(rp->c), 0) != sizeof(rp->c))
			break;
	}
	_exit(0);
}

/*
 * Calls recorded from another process than the trace's first are replayed
 * by a process of our own for each, forked when it first appears: it
 * inherits what exists then (devices opened before, as a forked QEMU helper
 * would) and makes its own fds and memory from there on.
 */
static struct helper *helper_of(struct replay *rp, int64_t tgid, uint8_t *buf)
{
	struct helper *h;
	int sv[2];
	pid_t pid;

	for (unsigned k = 0; k < rp->nhelpers; k++)
		if (rp->helpers[k].tgid == tgid)
			return &rp->helpers[k];
	if (rp->nhelpers == MAX_HELPERS ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		for (unsigned k = 0; k < rp->nhelpers; k++)
			close(rp->helpers[k].sock);
		rp->nhelpers = 0;
		helper_loop(rp, sv[1], buf);
	}
	close(sv[1]);
	h = &rp->helpers[rp->nhelpers++];
	h->tgid = tgid;
	h->pid = pid;
	h->sock = sv[0];
	return h;
}

static void delegate(struct replay *rp, struct helper *h, size_t i)
{
	int64_t idx = (int64_t)i;
	struct counts c;

	fflush(stdout);
	if (send(h->sock, &idx, sizeof(idx), 0) != sizeof(idx) ||
	    recv(h->sock, &c, sizeof(c), 0) != sizeof(c)) {
		fprintf(stderr, "usvhost-trace replay: helper for process %" PRId64
			" died\n", h->tgid);
		return;
	}
	rp->c.replayed += c.replayed;
	rp->c.divergences += c.divergences;
	rp->c.skipped += c.skipped;
	rp->c.uncompared += c.uncompared;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'D' },
		{ "strict", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct replay *rp = calloc(1, sizeof(*rp));
	uint8_t *buf = NULL;
	unsigned ndevs;
	struct trace t;
	int c, ret = 2;

	if (!rp)
		return 2;
	optind = 1;
	while ((c = getopt_long(argc, argv, "D:sjvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			rp->device = optarg;
			break;
		case 's':
			rp->strict = true;
			break;
		case 'j':
			rp->json = true;
			break;
		case 'v':
			rp->verbose = true;
			break;
		case 'h':
			printf("Usage: usvhost-trace replay FILE --device PATH [--strict] "
			       "[--json] [--verbose]\n");
			free(rp);
			return 0;
		default:
			free(rp);
			return 2;
		}
	}
	if (optind != argc - 1 || !rp->device) {
		fprintf(stderr, "usvhost-trace replay: want FILE --device PATH\n");
		free(rp);
		return 2;
	}
	if (trace_load(argv[optind], &t)) {
		free(rp);
		return 2;
	}
	rp->t = &t;
	rp->area = mmap(NULL, ARGBUF + 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rp->area == MAP_FAILED || mprotect(rp->area + ARGBUF, 4096, PROT_NONE)) {
		fprintf(stderr, "usvhost-trace replay: out of memory\n");
		goto out;
	}
	rp->bad_page = rp->area + ARGBUF;
	buf = malloc(ARGBUF);
	if (!buf) {
		fprintf(stderr, "usvhost-trace replay: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct rec *r = &t.recs[i];
		int64_t tgid = rec_tgid(r);

		if (!rp->main_tgid && tgid)
			rp->main_tgid = tgid;
		if (!tgid) {
			/* release, attach, ...: every process keeps its copy right */
			handle(rp, i, buf);
			for (unsigned k = 0; k < rp->nhelpers; k++)
				delegate(rp, &rp->helpers[k], i);
		} else if (tgid == rp->main_tgid) {
			handle(rp, i, buf);
		} else {
			struct helper *h = helper_of(rp, tgid, buf);

			if (h)
				delegate(rp, h, i);
			else
				handle(rp, i, buf);
		}
	}
	for (unsigned k = 0; k < rp->nhelpers; k++) {
		int64_t quit = -1;

		if (send(rp->helpers[k].sock, &quit, sizeof(quit), 0) < 0)
			kill(rp->helpers[k].pid, SIGTERM);
		waitpid(rp->helpers[k].pid, NULL, 0);
		close(rp->helpers[k].sock);
	}
	for (unsigned i = 0; i < rp->ndevs; i++)
		if (rp->devs[i].fd >= 0)
			close(rp->devs[i].fd);
	for (unsigned i = 0; i < rp->nfds; i++)
		if (rp->fds[i].fd >= 0)
			close(rp->fds[i].fd);
	ndevs = count_devs(&t);
	if (rp->json) {
		printf("{\"type\":\"summary\",\"replayed\":%u,\"devices\":%u,\"divergences\":%u,"
		       "\"skipped\":%u,\"uncompared\":%u}\n", rp->c.replayed, ndevs,
		       rp->c.divergences, rp->c.skipped, rp->c.uncompared);
	} else {
		printf("replayed %u ioctl%s on %u device%s against %s: %u divergence%s",
		       rp->c.replayed, rp->c.replayed == 1 ? "" : "s", ndevs,
		       ndevs == 1 ? "" : "s", rp->device, rp->c.divergences,
		       rp->c.divergences == 1 ? "" : "s");
		if (rp->c.skipped)
			printf(", %u skipped (injected when recorded)", rp->c.skipped);
		if (rp->c.uncompared)
			printf(", %u ring position%s not compared (traffic-dependent; --strict)",
			       rp->c.uncompared, rp->c.uncompared == 1 ? "" : "s");
		printf("\n");
	}
	ret = rp->c.divergences ? 1 : 0;
out:
	for (unsigned i = 0; i < rp->nmaps; i++)
		munmap(rp->maps[i].base, rp->maps[i].size);
	for (unsigned i = 0; i < rp->nlogs; i++)
		munmap(rp->logs[i].base, rp->logs[i].size);
	free(buf);
	if (rp->area && rp->area != MAP_FAILED)
		munmap(rp->area, ARGBUF + 4096);
	trace_free(&t);
	free(rp);
	return ret;
}
