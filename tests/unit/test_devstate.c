/* SPDX-License-Identifier: MIT */
/*
 * A device handed over (core/devstate.h, daemon/devstate_json.c): built
 * through the ioctl dispatcher (owner, two regions of which one a sealed
 * memfd mapped here, features with ACCESS_PLATFORM, IOTLB entries, MISS
 * messages, both rings on one backend with kick, call and log eventfds),
 * saved to JSON, sent through its text, restored into a second device list
 * from dup'd fds; then both answer the same, resume starts the rings from
 * the saved base, and malformed states are refused with nothing added and
 * no fd taken or closed. The caller and helpers: ioctl_fixture.h.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/devstate.h"
#include "core/iotlb.h"
#include "core/vhost_chr.h"
#include "daemon/devstate_json.h"
#include "datapath/uring_dp.h"
#include "ioctl_fixture.h"

#define AP USV_BIT(USV_F_ACCESS_PLATFORM)
#define MSG_LEN 72
#define SHARED_SIZE (16 * 1024)
#define SHARED_GPA 0x100000ULL
#define UID 4321u
/* The rings' IOVAs: mapped onto e->guest by an IOTLB entry. */
#define RING_IOVA 0x40000000ULL

static const struct usv_profile ap_profile = {
	.name = "unit-devstate",
	.description = "vhost-net with ACCESS_PLATFORM and IOTLB_MSG_V2",
	.features = { OFFERED | AP, 0 },
	.backend_features = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2),
	.max_mem_regions = USV_MAX_MEM_REGIONS,
	.kernel = USV_KERNEL_NEWEST,
};

/* Allocation n (counted while armed) fails; 0: none. The core and
 * devstate_json.c are linked in statically, so --wrap reaches their calls. */
static struct {
	bool armed;
	unsigned count, fail_at;
} alloc;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static bool alloc_fails(void)
{
	return alloc.armed && ++alloc.count == alloc.fail_at;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

static void alloc_arm(unsigned fail_at)
{
	alloc.count = 0;
	alloc.fail_at = fail_at;
	alloc.armed = true;
}

/* The device of the first list, saved; the second list to restore into. */
struct ho {
	struct env *e;
	uint8_t *shared;  /* the owner's shared RAM (a sealed memfd) */
	struct usv_fdvec fv;
	char *text;       /* the saved state as JSON text */
	int *dups;        /* fv's fds dup'd, as a receiving daemon gets them */
	struct usv_devlist l2;
	struct fake_dp dp2;
};

static ssize_t iotlb_update(struct env *e, uint64_t iova, uint64_t size, uint64_t uaddr,
			    uint8_t perm)
{
	uint8_t b[MSG_LEN] = { 0 };
	uint32_t hdr = 2; /* vhost_msg_v2 */

	memcpy(b, &hdr, 4);
	memcpy(b + 8, &iova, 8);
	memcpy(b + 16, &size, 8);
	memcpy(b + 24, &uaddr, 8);
	b[32] = perm;
	b[33] = 2; /* VHOST_IOTLB_UPDATE */
	return usv_chr_write(e->dev, b, MSG_LEN);
}

static uint8_t *shared_ram(struct env *e)
{
	int fd = env_keep(e, memfd_create("usv-unit-devstate", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	uint8_t *p;

	assert_int_equal(ftruncate(fd, SHARED_SIZE), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	p = mmap(NULL, SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	return p;
}

/* QEMU's start sequence with a vIOMMU, then the save. */
static int ho_setup(void **state)
{
	struct ho *h = calloc(1, sizeof(*h));
	struct env *e;
	struct usv_vhost_memory_region r[2];
	json_object *j = NULL;
	int backend;

	if (!h || env_setup_profile((void **)&h->e, &ap_profile))
		return -1;
	e = h->e;
	*state = h;
	h->shared = shared_ram(e);
	backend = env_backend_or_skip(e);
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, V1 | MRG | AP), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_BACKEND_FEATURES,
				 USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2)), 0);
	r[0] = guest_region(e, 0, ENV_GUEST_SIZE);
	r[1] = (struct usv_vhost_memory_region){ .guest_phys_addr = SHARED_GPA,
						 .memory_size = SHARED_SIZE,
						 .userspace_addr = (uintptr_t)h->shared };
	assert_int_equal(env_mem_table(e, r, 2), 0);
	assert_int_equal(e->dev->mem->regions[0].strategy, USV_MEM_PROCMEM);
	assert_int_equal(e->dev->mem->regions[1].strategy, USV_MEM_MMAP);
	assert_int_equal(iotlb_update(e, 0x1000, 0x1000, (uintptr_t)e->guest + 0x1000,
				      USV_IOTLB_RW), MSG_LEN);
	assert_int_equal(iotlb_update(e, 0x1000, 0x2000, (uintptr_t)h->shared, USV_IOTLB_RO),
			 MSG_LEN);
	assert_int_equal(iotlb_update(e, RING_IOVA, ENV_GUEST_SIZE, (uintptr_t)e->guest,
				      USV_IOTLB_RW), MSG_LEN);
	/* Two misses: one read (pending its answer), one not read yet. */
	assert_int_equal(usv_chr_miss(e->dev, 0, 0x9000, USV_IOTLB_RO, true), 0);
	{
		uint8_t b[MSG_LEN];

		assert_int_equal(usv_chr_read(e->dev, b, MSG_LEN, true, NULL, NULL), MSG_LEN);
	}
	assert_int_equal(usv_chr_miss(e->dev, 1, 0xa000, USV_IOTLB_WO, true), 0);
	assert_int_equal(set_log_fd(e, env_eventfd(e)), 0);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, i,
					  env_eventfd(e)), 0);
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, i,
					  env_eventfd(e)), 0);
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, i,
					   50 + i), 0);
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_NUM, i, 256), 0);
		assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, i, 7 + 2 * i),
				 0);
		assert_int_equal(env_vring_addr(e, i, 0, RING_IOVA + i * 0x8000u,
						RING_IOVA + i * 0x8000u + 0x2000,
						RING_IOVA + i * 0x8000u + 0x1000, 0), 0);
		assert_int_equal(env_file(e, &e->owner, USV_VHOST_NET_SET_BACKEND, i, backend), 0);
	}
	e->list.opener[e->handle] = UID; /* opened by someone else than root */
	fake_dp_clear(&e->dp);
	assert_int_equal(usv_devstate_save(&e->list, e->handle, &j, &h->fv), 0);
	h->text = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	h->dups = calloc(h->fv.n, sizeof(int));
	for (unsigned i = 0; i < h->fv.n; i++)
		h->dups[i] = fcntl(h->fv.fd[i], F_DUPFD_CLOEXEC, 0);
	h->dp2.watch_fd = -1;
	h->dp2.sync_avail = -1;
	assert_int_equal(usv_devlist_init(&h->l2, &ap_profile, &fake_dp_ops, &h->dp2), 0);
	return 0;
}

static int ho_teardown(void **state)
{
	struct ho *h = *state;
	int ret;

	usv_devlist_destroy(&h->l2);
	for (unsigned i = 0; h->dups && i < h->fv.n; i++)
		if (h->dups[i] >= 0)
			close(h->dups[i]);
	free(h->dups);
	usv_fdvec_free(&h->fv, false);
	free(h->text);
	if (h->shared)
		munmap(h->shared, SHARED_SIZE);
	ret = env_teardown((void **)&h->e);
	free(h);
	return ret;
}

static json_object *parsed(const struct ho *h)
{
	json_object *j = json_tokener_parse(h->text);

	assert_non_null(j);
	return j;
}

/* Runs one ioctl on dev (the env's caller and buffer). */
static int dev_ioctl(struct env *e, struct usv_dev *dev, uint32_t cmd, const void *in,
		     size_t len)
{
	struct usv_dev *saved = e->dev;
	int ret;

	e->dev = dev;
	ret = env_ioctl(e, &e->owner, cmd, in, len);
	e->dev = saved;
	return ret;
}

static uint32_t vring_base(struct env *e, struct usv_dev *dev, unsigned idx)
{
	struct usv_vhost_vring_state s = { .index = idx };

	assert_int_equal(dev_ioctl(e, dev, USV_VHOST_GET_VRING_BASE, &s, sizeof(s)), 0);
	return env_out_state(e).num;
}

static void saving_stops_each_ring_and_names_every_fd(void **state)
{
	struct ho *h = *state;
	struct env *e = h->e;
	json_object *j = parsed(h), *v, *vq;

	assert_int_equal(dp_count(e, DP_STOP, 0, 0), 1);
	assert_int_equal(dp_count(e, DP_STOP, 1, 0), 1);
	/* Stopped: GET_VRING_BASE answers the saved indexes, asking no
	 * datapath. */
	assert_int_equal(vring_base(e, e->dev, 0), 7);
	assert_int_equal(vring_base(e, e->dev, 1), 9);
	assert_int_equal(dp_count(e, DP_SYNC, 0, 0) + dp_count(e, DP_SYNC, 1, 0), 0);
	assert_true(json_object_object_get_ex(j, "version", &v));
	assert_int_equal(json_object_get_int(v), USV_DEVSTATE_VERSION);
	/* pidfd, memfd, the mapped region's fd, the log, 2 x (kick, call),
	 * one backend for both rings. */
	assert_int_equal(h->fv.n, 9);
	assert_true(json_object_object_get_ex(j, "vqs", &v));
	vq = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(vq, "backend", &v));
	assert_int_equal(h->fv.fd[json_object_get_int(v)], e->dev->vqs[0].backend_fd);
	/* Borrowed: the device still holds its fds. */
	for (unsigned i = 0; i < h->fv.n; i++)
		assert_true(fd_is_open(h->fv.fd[i]));
	json_object_put(j);
}

static void a_restored_device_answers_as_the_saved_one(void **state)
{
	struct ho *h = *state;
	struct env *e = h->e;
	json_object *j = parsed(h);
	struct usv_dev *a = e->dev, *b;
	const struct usv_iotlb_map *ma, *mb;
	uint64_t fa, fb, uva_a, uva_b;
	uint8_t x = 0, y = 0, ma_msg[MSG_LEN], mb_msg[MSG_LEN];
	unsigned nh;

	assert_int_equal(usv_devstate_restore(&h->l2, j, h->dups, h->fv.n), 0);
	json_object_put(j);
	for (unsigned i = 0; i < h->fv.n; i++)
		assert_int_equal(h->dups[i], -1); /* every one taken */
	b = usv_devlist_get(&h->l2, e->handle);
	assert_non_null(b);
	assert_int_equal(usv_devlist_count_uid(&h->l2, UID), 1);
	/* Rings configured, nothing started. */
	assert_int_equal(h->dp2.n, 0);
	/* A new open takes the lowest free handle, above the restored one. */
	assert_int_equal(usv_devlist_add(&h->l2, &nh), 0);
	assert_int_not_equal(nh, e->handle);
	assert_int_equal(usv_devlist_remove(&h->l2, nh), 0);
	assert_true(usv_dev_is_owner(b, getpid()));
	assert_int_equal(b->owner.tgid, a->owner.tgid);
	assert_string_equal(b->owner.comm, a->owner.comm);
	assert_int_equal(dev_ioctl(e, a, USV_VHOST_GET_FEATURES, NULL, 0), 0);
	fa = env_out_u64(e, 0);
	assert_int_equal(dev_ioctl(e, b, USV_VHOST_GET_FEATURES, NULL, 0), 0);
	fb = env_out_u64(e, 0);
	assert_true(fa == fb);
	assert_memory_equal(a->acked_features, b->acked_features, sizeof(a->acked_features));
	assert_true(a->acked_backend_features == b->acked_backend_features);
	assert_true(a->ioctls == b->ioctls);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		assert_int_equal(vring_base(e, b, i), vring_base(e, a, i));
		assert_int_equal(b->vqs[i].num, 256);
		assert_true(b->vqs[i].desc == a->vqs[i].desc && b->vqs[i].used == a->vqs[i].used);
		assert_int_equal(b->vqs[i].busyloop_timeout, 50 + i);
		assert_int_equal(b->vqs[i].vhost_hlen, a->vqs[i].vhost_hlen);
		assert_true(b->vqs[i].kick_fd >= 0 && b->vqs[i].call_fd >= 0);
		assert_true(usv_same_file(b->vqs[i].kick_fd, a->vqs[i].kick_fd));
		assert_true(usv_same_file(b->vqs[i].call_fd, a->vqs[i].call_fd));
		assert_int_equal(b->vqs[i].err_fd, -1);
		assert_int_equal(b->vqs[i].backend.kind, a->vqs[i].backend.kind);
	}
	assert_int_equal(b->vqs[0].backend_fd, b->vqs[1].backend_fd); /* one tap, one fd */
	assert_true(usv_same_file(b->vqs[0].backend_fd, a->vqs[0].backend_fd));
	assert_true(usv_same_file(b->log_fd, a->log_fd));
	/* The IOTLB: the same ranges, the older of two equal starts first. */
	assert_int_equal(b->iotlb->n, a->iotlb->n);
	ma = usv_iotlb_first(a->iotlb, 0x1800, 0x1800);
	mb = usv_iotlb_first(b->iotlb, 0x1800, 0x1800);
	assert_true(ma && mb && ma->addr == mb->addr && ma->perm == mb->perm &&
		    mb->perm == USV_IOTLB_RW);
	mb = usv_iotlb_first(b->iotlb, 0x2800, 0x2800);
	assert_true(mb && mb->addr == (uintptr_t)h->shared && mb->perm == USV_IOTLB_RO);
	/* The unread MISS reads the same; the read one still waits. */
	assert_int_equal(usv_chr_read(b, mb_msg, MSG_LEN, true, NULL, NULL), MSG_LEN);
	assert_int_equal(usv_chr_read(a, ma_msg, MSG_LEN, true, NULL, NULL), MSG_LEN);
	assert_memory_equal(ma_msg, mb_msg, MSG_LEN);
	assert_int_equal(usv_chr_read(b, mb_msg, MSG_LEN, true, NULL, NULL), -EAGAIN);
	assert_int_equal(b->msgq.count, 2);
	assert_int_equal(usv_msgq_answered(&b->msgq, 0x9000, 0x1000), 1u << 0);
	/* Memory: the same translation; the shared region mapped here from
	 * the handed-over fd, writable as before; the other through the
	 * owner's memfd. */
	assert_int_equal(b->mem->nregions, 2);
	assert_int_equal(b->mem->regions[1].strategy, USV_MEM_MMAP);
	assert_true(b->mem->regions[1].writable);
	assert_int_equal(b->mem->regions[0].strategy, USV_MEM_PROCMEM);
	for (unsigned i = 0; i < 2; i++) {
		uint64_t gpa = i ? SHARED_GPA + 0x123 : 0x456;

		assert_int_equal(usv_gpa_to_uva(a->mem, gpa, 8, &uva_a), 0);
		assert_int_equal(usv_gpa_to_uva(b->mem, gpa, 8, &uva_b), 0);
		assert_true(uva_a == uva_b);
	}
	h->shared[0x123] = 0x5c;
	e->guest[0x456] = 0x3d;
	assert_int_equal(usv_gpa_read(b->mem, SHARED_GPA + 0x123, &x, 1), 0);
	assert_int_equal(usv_gpa_read(b->mem, 0x456, &y, 1), 0);
	assert_int_equal(x, 0x5c);
	assert_int_equal(y, 0x3d);
	assert_int_equal(usv_gpa_write(b->mem, SHARED_GPA + 0x200, &(uint8_t){ 0x77 }, 1), 0);
	assert_int_equal(h->shared[0x200], 0x77);
	assert_int_equal(usv_gpa_read(b->mem, SHARED_GPA + SHARED_SIZE, &x, 1), -EFAULT);
}

static void resume_starts_each_ring_from_the_saved_base_and_signals_it(void **state)
{
	struct ho *h = *state;
	struct env *e = h->e;
	json_object *j = parsed(h);
	struct usv_dev *b;

	assert_int_equal(usv_devstate_restore(&h->l2, j, h->dups, h->fv.n), 0);
	json_object_put(j);
	b = usv_devlist_get(&h->l2, e->handle);
	assert_int_equal(usv_devstate_resume(&h->l2, e->handle), 0);
	assert_int_equal(h->dp2.n, 4);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct dp_event *start = &h->dp2.ev[2 * i], *sig = &h->dp2.ev[2 * i + 1];

		assert_int_equal(start->kind, DP_START);
		assert_int_equal(start->idx, i);
		assert_int_equal(start->last_avail_idx, 7 + 2 * i);
		assert_int_equal(start->last_used_idx, e->dev->vqs[i].last_used_idx);
		assert_int_equal(start->mem_nregions, 2);
		assert_int_equal(start->backend_fd, b->vqs[i].backend_fd);
		assert_int_equal(start->call_fd, b->vqs[i].call_fd);
		assert_int_equal(sig->kind, DP_UPDATE);
		assert_int_equal(sig->idx, i);
		assert_int_equal(sig->what, USV_RING_SIGNAL);
	}
	/* Running: the next resume has nothing to start; GET_VRING_BASE asks
	 * the datapath again. */
	assert_int_equal(usv_devstate_resume(&h->l2, e->handle), 0);
	assert_int_equal(h->dp2.n, 4);
	assert_int_equal(vring_base(e, b, 0), 7);
	assert_int_equal(h->dp2.ev[4].kind, DP_SYNC);
	assert_int_equal(usv_devstate_resume(&h->l2, e->handle + 1), -ENOENT);
}

static void a_failed_hand_over_resumes_the_old_device(void **state)
{
	struct ho *h = *state;
	struct env *e = h->e;

	fake_dp_clear(&e->dp);
	assert_int_equal(usv_devstate_resume(&e->list, e->handle), 0);
	assert_int_equal(dp_count(e, DP_START, 0, 0), 1);
	assert_int_equal(dp_count(e, DP_START, 1, 0), 1);
	assert_int_equal(dp_count(e, DP_UPDATE, 0, USV_RING_SIGNAL), 1);
	assert_int_equal(dp_count(e, DP_UPDATE, 1, USV_RING_SIGNAL), 1);
	/* Saving again stops them again. */
	{
		struct usv_fdvec fv = { 0 };
		json_object *j = NULL;

		assert_int_equal(usv_devstate_save(&e->list, e->handle, &j, &fv), 0);
		assert_int_equal(dp_count(e, DP_STOP, 0, 0), 1);
		json_object_put(j);
		usv_fdvec_free(&fv, false);
		assert_int_equal(usv_devstate_save(&e->list, e->handle + 1, &j, &fv), -ENOENT);
	}
}

/* ---- malformed states ------------------------------------------------------- */

static json_object *vq_of(json_object *j, unsigned i)
{
	json_object *v;

	assert_true(json_object_object_get_ex(j, "vqs", &v));
	return json_object_array_get_idx(v, i);
}

static int fd_index(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int(v);
}

static void set_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* Each one breaks a fresh copy of the state. */
static void bad_kick_index(struct ho *h, json_object *j)
{
	set_int(vq_of(j, 0), "kick", h->fv.n);
}

static void negative_fd_index(struct ho *h, json_object *j)
{
	(void)h;
	set_int(vq_of(j, 1), "call", -2);
}

static void duplicate_fd_index(struct ho *h, json_object *j)
{
	(void)h;
	set_int(vq_of(j, 0), "call", fd_index(vq_of(j, 0), "kick"));
}

static void backend_index_as_kick(struct ho *h, json_object *j)
{
	(void)h;
	set_int(vq_of(j, 1), "kick", fd_index(vq_of(j, 0), "backend"));
}

static void num_not_power_of_two(struct ho *h, json_object *j)
{
	(void)h;
	set_int(vq_of(j, 1), "num", 100);
}

static void num_too_large(struct ho *h, json_object *j)
{
	(void)h;
	set_int(vq_of(j, 0), "num", 65536);
}

static void missing_features(struct ho *h, json_object *j)
{
	(void)h;
	json_object_object_del(j, "features");
}

static void missing_ring_address(struct ho *h, json_object *j)
{
	(void)h;
	json_object_object_del(vq_of(j, 0), "used");
}

static void a_string_for_a_number(struct ho *h, json_object *j)
{
	(void)h;
	json_object_object_add(vq_of(j, 0), "desc", json_object_new_string("4096"));
}

static void another_version(struct ho *h, json_object *j)
{
	(void)h;
	set_int(j, "version", USV_DEVSTATE_VERSION + 1);
}

/* The new list's opener table would grow to 16 GiB for it. */
static void handle_near_uint_max(struct ho *h, json_object *j)
{
	(void)h;
	set_int(j, "handle", 4000000000);
}

static void handle_at_the_bound(struct ho *h, json_object *j)
{
	(void)h;
	set_int(j, "handle", USV_DEVSTATE_MAX_HANDLES);
}

static void features_not_offered(struct ho *h, json_object *j)
{
	json_object *f;

	(void)h;
	assert_true(json_object_object_get_ex(j, "features", &f));
	json_object_array_put_idx(f, 0, json_object_new_uint64(1ULL << 62));
}

static void region_of_size_zero_wrapping(struct ho *h, json_object *j)
{
	json_object *m;

	(void)h;
	assert_true(json_object_object_get_ex(j, "mem", &m));
	set_int(json_object_array_get_idx(m, 0), "size", 0);
	set_int(json_object_array_get_idx(m, 0), "gpa", 0x1000);
}

static void mapping_past_its_file(struct ho *h, json_object *j)
{
	json_object *m, *map;

	(void)h;
	assert_true(json_object_object_get_ex(j, "mem", &m));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(m, 1), "map", &map));
	set_int(map, "len", 2 * SHARED_SIZE);
}

static void an_eventfd_in_place_of_the_backend(struct ho *h, json_object *j)
{
	int kick = fd_index(vq_of(j, 0), "kick");

	(void)h;
	set_int(vq_of(j, 0), "kick", fd_index(vq_of(j, 0), "backend"));
	set_int(vq_of(j, 0), "backend", kick);
	set_int(vq_of(j, 1), "backend", kick);
}

static void owner_fds_swapped(struct ho *h, json_object *j)
{
	json_object *o;
	int pidfd;

	(void)h;
	assert_true(json_object_object_get_ex(j, "owner", &o));
	pidfd = fd_index(o, "pidfd");
	set_int(o, "pidfd", fd_index(o, "memfd"));
	set_int(o, "memfd", pidfd);
}

static void another_owner(struct ho *h, json_object *j)
{
	json_object *o;

	(void)h;
	assert_true(json_object_object_get_ex(j, "owner", &o));
	set_int(o, "tgid", getppid());
}

static void iotlb_range_backwards(struct ho *h, json_object *j)
{
	json_object *t;

	(void)h;
	assert_true(json_object_object_get_ex(j, "iotlb", &t));
	set_int(json_object_array_get_idx(t, 0), "last", 0);
}

static void miss_for_a_third_ring(struct ho *h, json_object *j)
{
	json_object *t;

	(void)h;
	assert_true(json_object_object_get_ex(j, "miss", &t));
	set_int(json_object_array_get_idx(t, 0), "vq", 2);
}

static void malformed_states_are_refused_with_nothing_added_or_taken(void **state)
{
	static const struct {
		const char *what;
		void (*breaks)(struct ho *h, json_object *j);
		int err;
	} cases[] = {
		{ "fd index past the fds", bad_kick_index, -EINVAL },
		{ "negative fd index", negative_fd_index, -EINVAL },
		{ "one fd index twice", duplicate_fd_index, -EINVAL },
		{ "the backend's index as a kick", backend_index_as_kick, -EINVAL },
		{ "num 100", num_not_power_of_two, -EINVAL },
		{ "num 65536", num_too_large, -EINVAL },
		{ "no features", missing_features, -EINVAL },
		{ "no used address", missing_ring_address, -EINVAL },
		{ "a string for a number", a_string_for_a_number, -EINVAL },
		{ "another version", another_version, -EINVAL },
		{ "handle 4000000000", handle_near_uint_max, -EINVAL },
		{ "handle USV_DEVSTATE_MAX_HANDLES", handle_at_the_bound, -EINVAL },
		{ "features the profile does not offer", features_not_offered, -EINVAL },
		{ "a region of size 0 not at 0", region_of_size_zero_wrapping, -EINVAL },
		{ "a mapping past its file", mapping_past_its_file, -EINVAL },
		{ "an eventfd as the backend", an_eventfd_in_place_of_the_backend, -EBADF },
		{ "the owner's pidfd and memfd swapped", owner_fds_swapped, -EBADF },
		{ "the owner's fds for another process", another_owner, -EBADF },
		{ "an IOTLB range ending before its start", iotlb_range_backwards, -EINVAL },
		{ "a MISS of ring 2", miss_for_a_third_ring, -EINVAL },
	};
	struct ho *h = *state;
	int *before = calloc(h->fv.n, sizeof(int));

	memcpy(before, h->dups, h->fv.n * sizeof(int));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		json_object *j = parsed(h);
		int fds = count_open_fds();

		cases[c].breaks(h, j);
		check_ret(usv_devstate_restore(&h->l2, j, h->dups, h->fv.n), cases[c].err, "%s",
			  cases[c].what);
		json_object_put(j);
		assert_int_equal(usv_devlist_count(&h->l2), 0);
		assert_int_equal(h->dp2.n, 0);
		assert_memory_equal(before, h->dups, h->fv.n * sizeof(int));
		assert_int_equal(count_open_fds(), fds);
		for (unsigned i = 0; i < h->fv.n; i++)
			assert_true(fd_is_open(h->dups[i]));
	}
	/* Not an object at all. */
	{
		json_object *j = json_object_new_array();

		assert_int_equal(usv_devstate_restore(&h->l2, j, h->dups, h->fv.n), -EINVAL);
		json_object_put(j);
	}
	/* Fewer fds than the state names. */
	{
		json_object *j = parsed(h);

		assert_int_equal(usv_devstate_restore(&h->l2, j, h->dups, h->fv.n - 1), -EINVAL);
		json_object_put(j);
	}
	assert_memory_equal(before, h->dups, h->fv.n * sizeof(int));
	free(before);
}

static void a_handle_in_use_is_eexist(void **state)
{
	struct ho *h = *state;
	struct env *e = h->e;
	json_object *j = parsed(h);
	int fds = count_open_fds();

	/* The first list still has the device. */
	assert_int_equal(usv_devstate_restore(&e->list, j, h->dups, h->fv.n), -EEXIST);
	assert_int_equal(usv_devlist_count(&e->list), 1);
	assert_int_equal(count_open_fds(), fds);
	for (unsigned i = 0; i < h->fv.n; i++)
		assert_true(h->dups[i] >= 0 && fd_is_open(h->dups[i]));
	/* And a second restore of one state into one list. */
	assert_int_equal(usv_devstate_restore(&h->l2, j, h->dups, h->fv.n), 0);
	json_object_put(j);
	j = parsed(h);
	{
		int more[16];

		assert_true(h->fv.n <= 16);
		for (unsigned i = 0; i < h->fv.n; i++)
			more[i] = fcntl(h->fv.fd[i], F_DUPFD_CLOEXEC, 0);
		assert_int_equal(usv_devstate_restore(&h->l2, j, more, h->fv.n), -EEXIST);
		for (unsigned i = 0; i < h->fv.n; i++)
			close(more[i]);
	}
	json_object_put(j);
	assert_int_equal(usv_devlist_count(&h->l2), 1);
}

static void each_allocation_failing_leaves_nothing_behind(void **state)
{
	struct ho *h = *state;
	struct env *e = h->e;
	unsigned fail_at;
	int ret;

	for (fail_at = 1;; fail_at++) {
		json_object *j = parsed(h);
		int fds = count_open_fds();

		alloc_arm(fail_at);
		ret = usv_devstate_restore(&h->l2, j, h->dups, h->fv.n);
		alloc.armed = false;
		json_object_put(j);
		if (!ret)
			break;
		check_ret(ret, -ENOMEM, "restore with allocation %u failing", fail_at);
		assert_int_equal(usv_devlist_count(&h->l2), 0);
		assert_int_equal(count_open_fds(), fds);
		for (unsigned i = 0; i < h->fv.n; i++)
			assert_true(h->dups[i] >= 0 && fd_is_open(h->dups[i]));
	}
	assert_true(fail_at > 5); /* the decoder's, the device's, the tables' */
	for (unsigned i = 0; i < h->fv.n; i++)
		assert_int_equal(h->dups[i], -1);
	/* Saving again (the rings are paused): a failure leaves the fd vector
	 * as it was, and the device can be resumed. */
	for (fail_at = 1;; fail_at++) {
		struct usv_fdvec fv = { 0 };
		json_object *j = NULL;

		alloc_arm(fail_at);
		ret = usv_devstate_save(&e->list, e->handle, &j, &fv);
		alloc.armed = false;
		if (!ret) {
			json_object_put(j);
			usv_fdvec_free(&fv, false);
			break;
		}
		check_ret(ret, -ENOMEM, "save with allocation %u failing", fail_at);
		assert_int_equal(fv.n, 0);
		usv_fdvec_free(&fv, false);
	}
	assert_true(fail_at > 2);
	fake_dp_clear(&e->dp);
	assert_int_equal(usv_devstate_resume(&e->list, e->handle), 0);
	assert_int_equal(dp_count(e, DP_START, 0, 0) + dp_count(e, DP_START, 1, 0), 2);
}

/* ---- with the daemon's datapath ---------------------------------------------- */

static const struct usv_dp_ring_stats *ring_stats(const struct usv_dp_ring_stats *s,
						  unsigned n, unsigned handle, unsigned idx)
{
	for (unsigned i = 0; i < n; i++)
		if (s[i].handle == handle && s[i].idx == idx)
			return &s[i];
	return NULL;
}

static void the_io_uring_datapath_resumes_with_an_interrupt_and_counters_go_on(void **state)
{
	struct env *e = *state;
	struct usv_dp *dpa = NULL, *dpb = NULL;
	struct usv_devlist l2;
	struct usv_fdvec fv = { 0 };
	struct usv_dp_ring_stats *s = NULL, seed = { .packets = 100, .bytes = 5000,
						      .kicks = 7, .interrupts = 3 };
	const struct usv_dp_ring_stats *r;
	struct pollfd pfd;
	json_object *j = NULL;
	uint64_t v = 0;
	unsigned n;
	int backend = env_backend_or_skip(e), call = env_eventfd(e), *dups;

	assert_int_equal(usv_dp_create(&(struct usv_dp_config){ 0 }, &dpa), 0);
	assert_int_equal(usv_dp_create(&(struct usv_dp_config){ 0 }, &dpb), 0);
	e->dev->dp = usv_dp_ops();
	e->dev->dp_ctx = dpa;
	assert_int_equal(env_set_owner(e), 0);
	assert_int_equal(env_u64(e, &e->owner, USV_VHOST_SET_FEATURES, V1 | MRG), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_KICK, USV_VQ_TX,
				  env_eventfd(e)), 0);
	assert_int_equal(env_file(e, &e->owner, USV_VHOST_SET_VRING_CALL, USV_VQ_TX, call), 0);
	assert_int_equal(env_state(e, &e->owner, USV_VHOST_SET_VRING_BASE, USV_VQ_TX, 5), 0);
	/* The guest has posted 5 chains, all used: an idle ring. */
	{
		uint16_t five = 5;

		memcpy(e->guest + (env_ring_avail(e, USV_VQ_TX) - (uintptr_t)e->guest) + 2,
		       &five, 2);
		memcpy(e->guest + (env_ring_used(e, USV_VQ_TX) - (uintptr_t)e->guest) + 2,
		       &five, 2);
	}
	assert_int_equal(env_start_ring(e, USV_VQ_TX, backend), 0);
	assert_int_equal(usv_devstate_save(&e->list, e->handle, &j, &fv), 0);
	assert_int_equal(vring_base(e, e->dev, USV_VQ_TX), 5);
	/* Nothing was signalled before the hand-over. */
	pfd = (struct pollfd){ .fd = call, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 0);

	dups = calloc(fv.n, sizeof(int));
	for (unsigned i = 0; i < fv.n; i++)
		dups[i] = fcntl(fv.fd[i], F_DUPFD_CLOEXEC, 0);
	assert_int_equal(usv_devlist_init(&l2, usv_profile_default(), usv_dp_ops(), dpb), 0);
	{
		/* Through its text: a number above INT64_MAX comes back. */
		json_object *t = json_tokener_parse(json_object_to_json_string(j));

		assert_non_null(t);
		json_object_put(j);
		j = t;
	}
	assert_int_equal(usv_devstate_restore(&l2, j, dups, fv.n), 0);
	assert_true(usv_devlist_get(&l2, e->handle)->vqs[USV_VQ_RX].log_addr == UINT64_MAX);
	/* Seeded before any ring of the device started: kept until then. */
	assert_int_equal(usv_dp_stats_seed(dpb, usv_devlist_get(&l2, e->handle), USV_VQ_TX,
					   &seed), 0);
	assert_int_equal(usv_dp_stats_seed(dpb, usv_devlist_get(&l2, e->handle), USV_NET_NVQS,
					   &seed), -EINVAL);
	assert_int_equal(usv_dp_stats_collect(dpb, &s, &n), 0);
	assert_null(ring_stats(s, n, e->handle, USV_VQ_TX));
	free(s);
	assert_int_equal(usv_devstate_resume(&l2, e->handle), 0);
	/* One interrupt, at once. */
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(read(call, &v, sizeof(v)), sizeof(v));
	assert_true(v >= 1);
	assert_int_equal(usv_dp_stats_collect(dpb, &s, &n), 0);
	r = ring_stats(s, n, e->handle, USV_VQ_TX);
	assert_non_null(r);
	assert_string_equal(r->state, "running");
	assert_true(r->packets == 100 && r->bytes == 5000 && r->kicks == 7);
	assert_true(r->interrupts == 4);
	free(s);
	/* Seeding a device whose state exists adds at once. */
	seed = (struct usv_dp_ring_stats){ .drops = 2 };
	assert_int_equal(usv_dp_stats_seed(dpb, usv_devlist_get(&l2, e->handle), USV_VQ_RX,
					   &seed), 0);
	assert_int_equal(usv_dp_stats_collect(dpb, &s, &n), 0);
	r = ring_stats(s, n, e->handle, USV_VQ_RX);
	assert_true(r && r->drops == 2 && r->packets == 0);
	free(s);
	assert_int_equal(vring_base(e, usv_devlist_get(&l2, e->handle), USV_VQ_TX), 5);

	json_object_put(j);
	usv_devlist_destroy(&l2);
	for (unsigned i = 0; i < fv.n; i++)
		assert_int_equal(dups[i], -1);
	free(dups);
	usv_fdvec_free(&fv, false);
	usv_devlist_remove(&e->list, e->handle);
	usv_dp_destroy(dpa);
	usv_dp_destroy(dpb);
}

/* A device handed over but released before any ring of it started: the
 * counters it brought go to the released totals, and the next device given
 * its handle starts at zero (they used to wait for it). */
static void counters_of_a_device_released_unstarted_go_to_the_released_totals(void **state)
{
	struct usv_dp_ring_stats *s = NULL, seed = { .packets = 9, .bytes = 900, .drops = 1 };
	const struct usv_dp_ring_stats *r;
	struct usv_dev *three, *four;
	struct usv_dp *dp = NULL;
	unsigned n = 0;

	(void)state;
	assert_int_equal(usv_dp_create(&(struct usv_dp_config){ 0 }, &dp), 0);
	three = usv_dev_new(3, usv_profile_default(), usv_dp_ops(), dp);
	four = usv_dev_new(4, usv_profile_default(), usv_dp_ops(), dp);
	assert_non_null(three);
	assert_non_null(four);
	assert_int_equal(usv_dp_stats_seed(dp, three, USV_VQ_TX, &seed), 0);
	assert_int_equal(usv_dp_stats_seed(dp, four, USV_VQ_TX, &seed), 0);
	usv_dev_free(three);
	assert_int_equal(usv_dp_stats_collect(dp, &s, &n), 0);
	r = ring_stats(s, n, UINT_MAX, USV_VQ_TX);
	assert_non_null(r);
	assert_true(r->packets == 9 && r->bytes == 900 && r->drops == 1);
	r = ring_stats(s, n, UINT_MAX, USV_VQ_RX);
	assert_true(r && r->packets == 0);
	free(s);
	/* Device 4's seed stayed its own: released, it joins the totals. */
	usv_dev_free(four);
	assert_int_equal(usv_dp_stats_collect(dp, &s, &n), 0);
	r = ring_stats(s, n, UINT_MAX, USV_VQ_TX);
	assert_true(r && r->packets == 18 && r->bytes == 1800);
	free(s);
	usv_dp_destroy(dp);
}

/* Does pidfd_open give a real pidfd here? Under valgrind 3.19 it is
 * emulated (tests/lib/pidfd_emul.c: an O_PATH /proc/PID), which a restore
 * rightly refuses as an owner's pidfd: its fdinfo names no Pid. */
static bool real_pidfds(void)
{
	char path[64], buf[512];
	ssize_t n = -1;
	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0), fd;

	if (pfd < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	close(pfd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "\nPid:") != NULL;
}

int main(void)
{
	/* Save and resume only: they need no owner handed over. */
	const struct CMUnitTest no_owner[] = {
		cmocka_unit_test(counters_of_a_device_released_unstarted_go_to_the_released_totals),
		cmocka_unit_test_setup_teardown(saving_stops_each_ring_and_names_every_fd,
						ho_setup, ho_teardown),
		cmocka_unit_test_setup_teardown(a_failed_hand_over_resumes_the_old_device,
						ho_setup, ho_teardown),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counters_of_a_device_released_unstarted_go_to_the_released_totals),
		cmocka_unit_test_setup_teardown(saving_stops_each_ring_and_names_every_fd,
						ho_setup, ho_teardown),
		cmocka_unit_test_setup_teardown(a_restored_device_answers_as_the_saved_one,
						ho_setup, ho_teardown),
		cmocka_unit_test_setup_teardown(
			resume_starts_each_ring_from_the_saved_base_and_signals_it, ho_setup,
			ho_teardown),
		cmocka_unit_test_setup_teardown(a_failed_hand_over_resumes_the_old_device,
						ho_setup, ho_teardown),
		cmocka_unit_test_setup_teardown(
			malformed_states_are_refused_with_nothing_added_or_taken, ho_setup,
			ho_teardown),
		cmocka_unit_test_setup_teardown(a_handle_in_use_is_eexist, ho_setup,
						ho_teardown),
		cmocka_unit_test_setup_teardown(each_allocation_failing_leaves_nothing_behind,
						ho_setup, ho_teardown),
		cmocka_unit_test_setup_teardown(
			the_io_uring_datapath_resumes_with_an_interrupt_and_counters_go_on,
			env_setup, env_teardown),
	};

	if (!real_pidfds()) {
		fprintf(stderr, "test_devstate: NOTE: no real pidfd here (pidfd_open is "
				"emulated, as under valgrind < 3.20): the 6 cases that "
				"restore an owner are NOT run; make check and the ASan "
				"build run them\n");
		return cmocka_run_group_tests(no_owner, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
