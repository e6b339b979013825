/* SPDX-License-Identifier: MIT */
/*
 * Unit tests (cmocka) of tracing, profiles and fault injection that need no
 * privilege: the --inject parser and counting, the profile table and its
 * gate, the dispatch hook (observer, injection, a kernel without an ioctl),
 * and the recorder's JSON read back through the format's reader.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/device.h"
#include "core/devlist.h"
#include "core/inject.h"
#include "core/dispatch.h"
#include "core/ioctl_table.h"
#include "core/observer.h"
#include "core/profile.h"
#include "core/request.h"
#include "trace/format.h"
#include "trace/recorder.h"

/* ---- a caller whose memory is a buffer at a fake address ----------------- */

#define FAKE_BASE 0x10000000ULL
static uint8_t fake_mem[4096];

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	if (addr < FAKE_BASE || addr + len > FAKE_BASE + sizeof(fake_mem))
		return -EFAULT;
	memcpy(buf, fake_mem + (addr - FAKE_BASE), len);
	return 0;
}

static int fake_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	(void)ctx;
	if (addr < FAKE_BASE || addr + len > FAKE_BASE + sizeof(fake_mem))
		return -EFAULT;
	memcpy(fake_mem + (addr - FAKE_BASE), buf, len);
	return 0;
}

static const struct usv_uaccess fake_ua = { .read = fake_read, .write = fake_write };

static int call(struct usv_dev *dev, uint32_t cmd, struct usv_req *req)
{
	struct usv_caller caller = { .tid = getpid(), .tgid = getpid() };

	usv_req_init(req, cmd, FAKE_BASE, &caller, &fake_ua, NULL);
	return usv_ioctl_dispatch(dev, req);
}

/* ---- inject: parsing ---------------------------------------------------------- */

static void test_inject_parse_forms(void **state)
{
	struct usv_inject_rule r;
	char err[256];

	(void)state;
	assert_int_equal(usv_inject_parse("SET_MEM_TABLE:E2BIG", &r, err, sizeof(err)), 0);
	assert_int_equal(r.cmd, USV_VHOST_SET_MEM_TABLE);
	assert_int_equal(r.err, E2BIG);
	assert_int_equal(r.nth, 1);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.spec, "SET_MEM_TABLE:E2BIG:nth=1:count=1");

	assert_int_equal(usv_inject_parse("vhost_set_vring_call:efault:nth=3:count=0", &r,
					  err, sizeof(err)), 0);
	assert_int_equal(r.cmd, USV_VHOST_SET_VRING_CALL);
	assert_int_equal(r.err, EFAULT);
	assert_int_equal(r.nth, 3);
	assert_int_equal(r.count, 0);

	assert_int_equal(usv_inject_parse("0x4008af30:88:count=inf", &r, err, sizeof(err)), 0);
	assert_int_equal(r.cmd, USV_VHOST_NET_SET_BACKEND);
	assert_int_equal(r.err, ENOTSOCK);
	assert_int_equal(r.count, 0);
	assert_string_equal(r.spec, "NET_SET_BACKEND:ENOTSOCK:nth=1:count=0");

	/* A number the table does not know is still an ioctl (the unknown path). */
	assert_int_equal(usv_inject_parse("0x0000af7f:ENOTTY", &r, err, sizeof(err)), 0);
	assert_int_equal(r.cmd, 0xaf7f);
	assert_string_equal(r.spec, "0x0000af7f:ENOTTY:nth=1:count=1");
}

static void test_inject_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", "SET_MEM_TABLE", "SET_NOTHING:EFAULT", "SET_MEM_TABLE:ENOSUCH",
		"SET_MEM_TABLE:0", "SET_MEM_TABLE:-5", "SET_MEM_TABLE:EFAULT:nth=0",
		"SET_MEM_TABLE:EFAULT:nth=x", "SET_MEM_TABLE:EFAULT:count=-1",
		"SET_MEM_TABLE:EFAULT:every=2", "4008af03:EFAULT",
	};
	struct usv_inject_rule r;
	char err[256];

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(usv_inject_parse(bad[i], &r, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
	}
}

static void test_inject_plausible_warning(void **state)
{
	struct usv_inject inj;
	char err[256], warn[256];

	(void)state;
	usv_inject_init(&inj);
	assert_int_equal(usv_inject_add(&inj, "SET_MEM_TABLE:E2BIG", err, sizeof(err), warn,
					sizeof(warn)), 0);
	assert_string_equal(warn, "");
	assert_int_equal(usv_inject_add(&inj, "GET_FEATURES:ENOSPC", err, sizeof(err), warn,
					sizeof(warn)), 0);
	assert_non_null(strstr(warn, "never answers"));
	assert_int_equal(inj.nrules, 2);
	assert_true(usv_inject_errno_plausible(USV_VHOST_NET_SET_BACKEND, ENOTSOCK));
	assert_false(usv_inject_errno_plausible(USV_VHOST_NET_SET_BACKEND, E2BIG));
	assert_true(usv_inject_errno_plausible(0xaf7f, ENOTTY));
	usv_inject_destroy(&inj);
}

/* ---- inject: counting -------------------------------------------------------- */

static int round_trip(struct usv_inject *inj, uint32_t cmd, bool final, bool reach)
{
	struct usv_inject_ticket t;
	int err = usv_inject_begin(inj, cmd, &t);

	usv_inject_end(inj, cmd, &t, final, reach && err);
	return reach ? err : 0;
}

static void test_inject_nth_count(void **state)
{
	struct usv_inject inj;
	char err[256];
	int got[6];

	(void)state;
	usv_inject_init(&inj);
	assert_int_equal(usv_inject_add(&inj, "SET_VRING_NUM:EINVAL:nth=2:count=2", err,
					sizeof(err), NULL, 0), 0);
	for (int i = 0; i < 6; i++)
		got[i] = round_trip(&inj, USV_VHOST_SET_VRING_NUM, true, true);
	assert_int_equal(got[0], 0);
	assert_int_equal(got[1], EINVAL);
	assert_int_equal(got[2], EINVAL);
	assert_int_equal(got[3], 0);
	assert_int_equal(got[5], 0);
	/* Another ioctl is not counted and not touched. */
	assert_int_equal(round_trip(&inj, USV_VHOST_SET_VRING_BASE, true, true), 0);
	assert_int_equal(inj.rules[0].calls, 6);
	assert_int_equal(inj.rules[0].fired, 2);
	usv_inject_destroy(&inj);
}

static void test_inject_retry_and_generic_checks(void **state)
{
	struct usv_inject inj;
	char err[256];

	(void)state;
	usv_inject_init(&inj);
	assert_int_equal(usv_inject_add(&inj, "SET_MEM_TABLE:EFAULT", err, sizeof(err), NULL, 0), 0);
	/* A CUSE retry round neither counts nor uses the rule up. */
	assert_int_equal(round_trip(&inj, USV_VHOST_SET_MEM_TABLE, false, true), EFAULT);
	assert_int_equal(inj.rules[0].calls, 0);
	assert_int_equal(inj.rules[0].fired, 0);
	/* A call the generic checks answered (EPERM) counts but keeps the rule. */
	assert_int_equal(round_trip(&inj, USV_VHOST_SET_MEM_TABLE, true, false), 0);
	assert_int_equal(inj.rules[0].calls, 1);
	assert_int_equal(inj.rules[0].fired, 0);
	assert_int_equal(round_trip(&inj, USV_VHOST_SET_MEM_TABLE, true, true), EFAULT);
	assert_int_equal(round_trip(&inj, USV_VHOST_SET_MEM_TABLE, true, true), 0);
	usv_inject_destroy(&inj);
}

static void test_inject_unlimited(void **state)
{
	struct usv_inject inj;
	char err[256];

	(void)state;
	usv_inject_init(&inj);
	assert_int_equal(usv_inject_add(&inj, "SET_OWNER:EBUSY:nth=3:count=0", err, sizeof(err),
					NULL, 0), 0);
	for (int i = 1; i <= 10; i++)
		assert_int_equal(round_trip(&inj, USV_VHOST_SET_OWNER, true, true),
				 i >= 3 ? EBUSY : 0);
	usv_inject_destroy(&inj);
}

/* ---- profiles --------------------------------------------------------------- */

static void test_profile_table(void **state)
{
	const struct usv_profile *p, *all;
	unsigned n;

	(void)state;
	all = usv_profile_list(&n);
	assert_int_equal(n, 5);
	assert_ptr_equal(usv_profile_default(), &all[0]);
	assert_string_equal(all[0].name, "usvhost");
	assert_null(usv_profile_find("linux-2.6"));

	p = usv_profile_find("usvhost");
	assert_int_equal(p->features[0], 0x73d008000ULL);
	assert_int_equal(p->features[1], 0);
	assert_int_equal(p->backend_features, 0x2);
	assert_true(usv_profile_has_ioctl(p, USV_VHOST_SET_BACKEND_FEATURES) && usv_profile_has_ioctl(p, USV_VHOST_SET_FEATURES_ARRAY));
	assert_int_equal(p->unimplemented[0] | p->unimplemented[1], 0);

	p = usv_profile_find("linux-4.14");
	assert_int_equal(p->features[0], 0x33d008000ULL);
	assert_false(usv_profile_has_ioctl(p, USV_VHOST_SET_BACKEND_FEATURES));
	assert_false(usv_profile_has_ioctl(p, USV_VHOST_SET_FEATURES_ARRAY));
	assert_int_equal(p->backend_features, 0);
	assert_false(usv_profile_has_ioctl(p, USV_VHOST_GET_BACKEND_FEATURES));
	assert_true(usv_profile_has_ioctl(p, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT));

	for (const char *name = "linux-5.10"; name; name = strcmp(name, "linux-5.10") ? NULL : "linux-6.1") {
		p = usv_profile_find(name);
		assert_int_equal(p->features[0], 0x33d008000ULL);
		assert_int_equal(p->backend_features, 0x2);
		assert_true(usv_profile_has_ioctl(p, USV_VHOST_SET_BACKEND_FEATURES));
		assert_false(usv_profile_has_ioctl(p, USV_VHOST_SET_FEATURES_ARRAY));
		assert_false(usv_profile_has_ioctl(p, USV_VHOST_GET_FEATURES_ARRAY));
	}

	p = usv_profile_find("linux-6.17");
	assert_int_equal(p->features[0], 0x10b3d008000ULL); /* + IN_ORDER, RING_RESET */
	assert_int_equal(p->features[1], 0xa);              /* bits 65 and 67 */
	assert_true(usv_profile_has_ioctl(p, USV_VHOST_SET_FEATURES_ARRAY));
	/* RING_RESET needs nothing of the device: accepted. */
	assert_false(p->unimplemented[0] >> USV_F_RING_RESET & 1);

	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(all[i].max_mem_regions, 64);
		for (unsigned w = 0; w < USV_FEATURES_DWORDS; w++)
			assert_int_equal(all[i].unimplemented[w] & ~all[i].features[w], 0);
		assert_non_null(all[i].source);
	}
}

static void test_profile_gate(void **state)
{
	const struct usv_profile *p61 = usv_profile_find("linux-6.1");
	struct usv_caller caller = { .tid = 1, .tgid = 1 };
	struct usv_req req;
	uint64_t f;

	(void)state;
	f = 0x130008000ULL;
	memcpy(fake_mem, &f, sizeof(f));
	usv_req_init(&req, USV_VHOST_SET_FEATURES, FAKE_BASE, &caller, &fake_ua, NULL);
	assert_int_equal(usv_profile_gate(p61, 0, &req), 0);
	/* ACCESS_PLATFORM is served: 6.1 offered it, and it passes. */
	f |= 1ULL << USV_F_ACCESS_PLATFORM;
	memcpy(fake_mem, &f, sizeof(f));
	usv_req_init(&req, USV_VHOST_SET_FEATURES, FAKE_BASE, &caller, &fake_ua, NULL);
	assert_int_equal(usv_profile_gate(p61, 0, &req), 0);
	/* 6.17's IN_ORDER is not: refused with the reason logged. */
	f |= 1ULL << USV_F_IN_ORDER;
	memcpy(fake_mem, &f, sizeof(f));
	usv_req_init(&req, USV_VHOST_SET_FEATURES, FAKE_BASE, &caller, &fake_ua, NULL);
	assert_int_equal(usv_profile_gate(usv_profile_find("linux-6.17"), 0, &req), -EOPNOTSUPP);
	/* usvhost itself never gates (it does not offer the bit at all). */
	usv_req_init(&req, USV_VHOST_SET_FEATURES, FAKE_BASE, &caller, &fake_ua, NULL);
	assert_int_equal(usv_profile_gate(usv_profile_default(), 0, &req), 0);
	/* 6.17: the features array's word 1 */
	{
		uint64_t arr[3] = { 2, 0x130008000ULL, 0x2 };

		memcpy(fake_mem, arr, sizeof(arr));
		usv_req_init(&req, USV_VHOST_SET_FEATURES_ARRAY, FAKE_BASE, &caller, &fake_ua, NULL);
		assert_int_equal(usv_profile_gate(usv_profile_find("linux-6.17"), 0, &req),
				 -EOPNOTSUPP);
		arr[2] = 0;
		memcpy(fake_mem, arr, sizeof(arr));
		usv_req_init(&req, USV_VHOST_SET_FEATURES_ARRAY, FAKE_BASE, &caller, &fake_ua, NULL);
		assert_int_equal(usv_profile_gate(usv_profile_find("linux-6.17"), 0, &req), 0);
	}
	/* An unreadable argument: the read's EFAULT, as the handler's (for a
	 * profile with bits to gate). */
	usv_req_init(&req, USV_VHOST_SET_FEATURES, 8, &caller, &fake_ua, NULL);
	assert_int_equal(usv_profile_gate(usv_profile_find("linux-6.17"), 0, &req), -EFAULT);
}

/* ---- the dispatch hook -------------------------------------------------------- */

struct seen {
	unsigned ioctls, events;
	int last_ret, last_injected;
	uint32_t last_cmd;
	enum usv_obs_kind last_kind;
	bool latency_set;
};

static void obs_ioctl(void *ctx, struct usv_dev *dev, const struct usv_obs_ioctl *ev)
{
	struct seen *s = ctx;

	(void)dev;
	s->ioctls++;
	s->last_ret = ev->ret;
	s->last_injected = ev->injected;
	s->last_cmd = ev->req->cmd;
	s->latency_set = ev->time_ns != 0;
}

static void obs_event(void *ctx, struct usv_dev *dev, const struct usv_obs_event *ev)
{
	struct seen *s = ctx;

	(void)dev;
	s->events++;
	s->last_kind = ev->kind;
}

static const struct usv_observer test_obs = { .ioctl = obs_ioctl, .event = obs_event };

static void test_dispatch_observer_and_inject(void **state)
{
	struct usv_devlist list;
	struct usv_inject inj;
	struct seen seen = { 0 };
	struct usv_dev *dev;
	struct usv_req req;
	unsigned h;
	char err[256];
	struct usv_vhost_vring_state st = { .index = 0, .num = 256 };
	struct { uint32_t n, pad; uint64_t gpa, size, uaddr, flags; } mem = {
		1, 0, 0, 0x1000, 0x7f0000000000ULL, 0 };

	(void)state;
	usv_inject_init(&inj);
	assert_int_equal(usv_inject_add(&inj, "SET_MEM_TABLE:E2BIG", err, sizeof(err), NULL, 0), 0);
	assert_int_equal(usv_devlist_init(&list, usv_profile_find("linux-4.14"), NULL, NULL), 0);
	usv_devlist_set_observer(&list, &test_obs, &seen);
	usv_devlist_set_inject(&list, &inj);
	assert_int_equal(usv_devlist_add(&list, &h), 0);
	dev = usv_devlist_get(&list, h);
	assert_non_null(dev);
	assert_ptr_equal(dev->obs, &test_obs);
	/* Owned by this process, pinned as SET_OWNER pins a caller. */
	assert_int_equal(usv_owner_pin(getpid(), &dev->owner), 0);

	memcpy(fake_mem, &st, sizeof(st));
	assert_int_equal(call(dev, USV_VHOST_SET_VRING_NUM, &req), 0);
	assert_int_equal(seen.ioctls, 1);
	assert_int_equal(seen.last_ret, 0);
	assert_true(seen.latency_set);

	/* The injected answer: the regions were read (captured), nothing set. */
	memcpy(fake_mem, &mem, sizeof(mem));
	assert_int_equal(call(dev, USV_VHOST_SET_MEM_TABLE, &req), -E2BIG);
	assert_int_equal(seen.last_injected, E2BIG);
	assert_int_equal(req.in.len, sizeof(mem));
	assert_null(dev->mem);
	/* Used up: the next one runs (and fails in the handler, unmapped). */
	assert_int_not_equal(call(dev, USV_VHOST_SET_MEM_TABLE, &req), -E2BIG);
	assert_int_equal(seen.last_injected, 0);

	/* 4.14 has no GET_BACKEND_FEATURES: the unknown path reads a u32 index. */
	memset(fake_mem, 0, 8);
	assert_int_equal(call(dev, USV_VHOST_GET_BACKEND_FEATURES, &req), -ENOTTY);
	fake_mem[0] = 7;
	assert_int_equal(call(dev, USV_VHOST_GET_BACKEND_FEATURES, &req), -ENOBUFS);
	assert_int_equal(req.out.len, 0);

	assert_int_equal(usv_devlist_remove(&list, h), 0);
	assert_int_equal(seen.last_kind, USV_OBS_RELEASE);
	usv_devlist_destroy(&list);
	usv_inject_destroy(&inj);
}

/* ---- the recorder, read back ------------------------------------------------- */

static void test_recorder_roundtrip(void **state)
{
	struct usv_trace_info info = { .producer = "test", .transport = "fuse",
				       .profile = usv_profile_default() };
	struct usv_dev *dev = usv_dev_new(3, usv_profile_default(), NULL, NULL);
	struct usv_guestmem *gm = calloc(1, sizeof(*gm) + sizeof(struct usv_mem_region));
	struct usv_vhost_vring_state st = { .index = 1, .num = 512 };
	struct usv_obs_event ev = { .kind = USV_OBS_MEMORY, .handle = 3 };
	struct usv_obs_ioctl io = { .time_ns = 1, .latency_ns = 42 };
	struct usv_caller caller = { .tid = getpid(), .tgid = getpid() };
	json_object *rec;
	struct usv_trace *t;
	struct usv_req req;
	unsigned lineno = 0;
	char err[256];
	int64_t v;
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	assert_non_null(dev);
	assert_non_null(gm);
	t = usv_trace_open_stream(f, &info);
	assert_non_null(t);
	usv_req_init(&req, USV_VHOST_SET_VRING_NUM, FAKE_BASE, &caller, &fake_ua, NULL);
	memcpy(req.in.buf, &st, sizeof(st));
	req.in.len = sizeof(st);
	io.req = &req;
	io.ret = -EBUSY;
	io.injected = EBUSY;
	usv_trace_observer.ioctl(t, dev, &io);
	gm->nregions = 1;
	gm->regions[0] = (struct usv_mem_region){ .gpa = 0, .last = 0xfff, .uaddr = 0x7000,
						  .strategy = USV_MEM_MMAP };
	snprintf(gm->regions[0].backing, sizeof(gm->regions[0].backing), "/memfd:ram");
	ev.mem = gm;
	usv_trace_observer.event(t, dev, &ev);
	usv_trace_close(t);
	rewind(f);

	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_int_equal(usv_trace_check_header(rec, err, sizeof(err)), 0);
	assert_string_equal(usv_tj_str(usv_tj_obj(rec, "profile"), "name"), "usvhost");
	json_object_put(rec);

	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_string_equal(usv_tj_str(rec, "type"), "ioctl");
	assert_true(usv_tj_i64(rec, "seq", &v) && v == 1);
	assert_true(usv_tj_i64(rec, "dev", &v) && v == 3);
	assert_string_equal(usv_tj_str(rec, "ioctl"), "SET_VRING_NUM");
	assert_string_equal(usv_tj_str(rec, "cmd"), "0x4008af10");
	assert_true(usv_tj_i64(usv_tj_obj(rec, "in"), "num", &v) && v == 512);
	assert_true(usv_tj_i64(rec, "ret", &v) && v == -1);
	assert_string_equal(usv_tj_str(rec, "errno"), "EBUSY");
	assert_true(json_object_get_boolean(json_object_object_get(rec, "injected")));
	assert_true(usv_tj_i64(rec, "latency_ns", &v) && v == 42);
	json_object_put(rec);

	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_string_equal(usv_tj_str(rec, "type"), "memory");
	{
		json_object *r0 = json_object_array_get_idx(usv_tj_arr(rec, "regions"), 0);
		uint64_t u;

		assert_string_equal(usv_tj_str(r0, "strategy"), "mmap");
		assert_true(usv_tj_u64(r0, "size", &u) && u == 0x1000);
	}
	json_object_put(rec);

	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_string_equal(usv_tj_str(rec, "type"), "end");
	assert_true(usv_tj_i64(rec, "records", &v) && v == 2); /* before it */
	json_object_put(rec);
	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_null(rec);
	fclose(f);
	free(gm);
	usv_dev_free(dev);
}

static void test_recorder_iotlb(void **state)
{
	struct usv_trace_info info = { .producer = "test", .transport = "fuse",
				       .profile = usv_profile_default() };
	struct usv_dev *dev = usv_dev_new(2, usv_profile_default(), NULL, NULL);
	struct usv_obs_iotlb w = { .framing = 2, .type = 2, .perm = 3, .iova = 0x1000,
				   .size = 0x2000, .uaddr = 0x7f0000001000 };
	struct usv_obs_iotlb bad = { .framing = 1, .type = 3, .iova = 0x1000, .answer = -EINVAL };
	struct usv_obs_iotlb r = { .read = true, .framing = 2, .type = 1, .perm = 1,
				   .iova = 0x5000 };
	struct usv_obs_event ev = { .kind = USV_OBS_IOTLB, .handle = 2 };
	json_object *rec;
	struct usv_trace *t;
	unsigned lineno = 0;
	char err[256];
	int64_t v;
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	assert_non_null(dev);
	t = usv_trace_open_stream(f, &info);
	assert_non_null(t);
	ev.iotlb = &w;
	usv_trace_observer.event(t, dev, &ev);
	ev.iotlb = &bad;
	usv_trace_observer.event(t, dev, &ev);
	ev.iotlb = &r;
	usv_trace_observer.event(t, dev, &ev);
	usv_trace_close(t);
	rewind(f);
	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	json_object_put(rec); /* the header */

	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_string_equal(usv_tj_str(rec, "type"), "iotlb");
	assert_string_equal(usv_tj_str(rec, "dir"), "write");
	assert_string_equal(usv_tj_str(rec, "msg"), "v2");
	assert_string_equal(usv_tj_str(rec, "iotlb_type"), "update");
	assert_string_equal(usv_tj_str(rec, "iova"), "0x1000");
	assert_string_equal(usv_tj_str(rec, "size"), "0x2000");
	assert_string_equal(usv_tj_str(rec, "uaddr"), "0x7f0000001000");
	assert_string_equal(usv_tj_str(rec, "perm"), "rw");
	assert_true(usv_tj_i64(rec, "ret", &v) && v == 72);
	assert_null(usv_tj_str(rec, "errno"));
	json_object_put(rec);

	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_string_equal(usv_tj_str(rec, "msg"), "v1");
	assert_string_equal(usv_tj_str(rec, "iotlb_type"), "invalidate");
	assert_string_equal(usv_tj_str(rec, "perm"), "none");
	assert_true(usv_tj_i64(rec, "ret", &v) && v == -1);
	assert_string_equal(usv_tj_str(rec, "errno"), "EINVAL");
	json_object_put(rec);

	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_string_equal(usv_tj_str(rec, "dir"), "read");
	assert_string_equal(usv_tj_str(rec, "iotlb_type"), "miss");
	assert_string_equal(usv_tj_str(rec, "perm"), "ro");
	assert_null(usv_tj_str(rec, "ret"));
	json_object_put(rec);
	fclose(f);
	usv_dev_free(dev);
}

static void test_reader_rejects(void **state)
{
	json_object *rec;
	unsigned lineno = 0;
	char err[256];
	FILE *f = tmpfile();

	(void)state;
	fputs("{\"type\":\"header\",\"format\":\"usvhost-trace\",\"version\":2}\n[1]\n{bad\n", f);
	rewind(f);
	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), 0);
	assert_int_equal(usv_trace_check_header(rec, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "newer"));
	json_object_put(rec);
	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), -1);
	assert_int_equal(lineno, 2);
	assert_int_equal(usv_trace_read_line(f, &rec, &lineno, err, sizeof(err)), -1);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inject_parse_forms),
		cmocka_unit_test(test_inject_parse_errors),
		cmocka_unit_test(test_inject_plausible_warning),
		cmocka_unit_test(test_inject_nth_count),
		cmocka_unit_test(test_inject_retry_and_generic_checks),
		cmocka_unit_test(test_inject_unlimited),
		cmocka_unit_test(test_profile_table),
		cmocka_unit_test(test_profile_gate),
		cmocka_unit_test(test_dispatch_observer_and_inject),
		cmocka_unit_test(test_recorder_roundtrip),
		cmocka_unit_test(test_recorder_iotlb),
		cmocka_unit_test(test_reader_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
