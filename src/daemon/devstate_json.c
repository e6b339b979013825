/* SPDX-License-Identifier: MIT */
/* core/devstate.h's state to JSON and back (the hand-over's device format). */
#include "daemon/devstate_json.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- save ----------------------------------------------------------------- */

struct enc {
	struct usv_fdvec *fds;
	int err;
};

static json_object *jobj(struct enc *e)
{
	json_object *o = json_object_new_object();

	if (!o)
		e->err = -ENOMEM;
	return o;
}

static void put(struct enc *e, json_object *o, const char *key, json_object *v)
{
	if (!o || !v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		e->err = -ENOMEM;
	}
}

static void put_u64(struct enc *e, json_object *o, const char *key, uint64_t v)
{
	put(e, o, key, json_object_new_uint64(v));
}

static void put_bool(struct enc *e, json_object *o, const char *key, bool v)
{
	put(e, o, key, json_object_new_boolean(v));
}

/* An fd as its index in the vector (-1 none); the same fd twice (the backend
 * both rings share) gets one index. */
static void put_fd(struct enc *e, json_object *o, const char *key, int fd)
{
	int idx = -1;

	for (unsigned i = 0; fd >= 0 && i < e->fds->n; i++)
		if (e->fds->fd[i] == fd)
			idx = (int)i;
	if (fd >= 0 && idx < 0) {
		idx = usv_fdvec_push(e->fds, fd);
		if (idx < 0) {
			e->err = idx;
			return;
		}
	}
	put(e, o, key, json_object_new_int(idx));
}

static json_object *enc_owner(struct enc *e, const struct usv_devstate *st)
{
	json_object *o;

	if (!st->tgid)
		return NULL;
	o = jobj(e);
	put_u64(e, o, "tgid", (uint64_t)st->tgid);
	put_u64(e, o, "probe", st->probe);
	put(e, o, "comm", json_object_new_string(st->comm));
	put_fd(e, o, "pidfd", st->pidfd);
	put_fd(e, o, "memfd", st->memfd);
	return o;
}

static json_object *enc_mem(struct enc *e, const struct usv_devstate *st)
{
	json_object *a;

	if (!st->has_mem)
		return NULL;
	a = json_object_new_array();
	if (!a)
		e->err = -ENOMEM;
	for (uint32_t i = 0; a && i < st->nregions; i++) {
		const struct usv_devstate_region *r = &st->regions[i];
		json_object *o = jobj(e), *m = NULL;

		put_u64(e, o, "gpa", r->gpa);
		put_u64(e, o, "size", r->size);
		put_u64(e, o, "uaddr", r->uaddr);
		if (r->mapped) {
			m = jobj(e);
			put_fd(e, m, "fd", r->fd);
			put_u64(e, m, "offset", r->map_off);
			put_u64(e, m, "len", r->map_len);
			put_u64(e, m, "at", r->local_off);
			put_bool(e, m, "writable", r->writable);
			if (!m)
				continue;
		}
		if (o && json_object_object_add(o, "map", m)) {
			json_object_put(m);
			e->err = -ENOMEM;
		}
		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			e->err = -ENOMEM;
		}
	}
	return a;
}

static json_object *enc_vq(struct enc *e, const struct usv_devstate_vq *v)
{
	json_object *o = jobj(e);

	put_u64(e, o, "num", v->num);
	put_u64(e, o, "desc", v->desc);
	put_u64(e, o, "avail", v->avail);
	put_u64(e, o, "used", v->used);
	put_bool(e, o, "log_used", v->log_used);
	put_u64(e, o, "log_addr", v->log_addr);
	put_u64(e, o, "log_base", v->log_base);
	put_u64(e, o, "last_avail_idx", v->last_avail_idx);
	put_u64(e, o, "avail_idx", v->avail_idx);
	put_u64(e, o, "last_used_idx", v->last_used_idx);
	put_u64(e, o, "used_flags", v->used_flags);
	put_u64(e, o, "busyloop_timeout", v->busyloop_timeout);
	put_fd(e, o, "kick", v->kick_fd);
	put_fd(e, o, "call", v->call_fd);
	put_fd(e, o, "err", v->err_fd);
	put_fd(e, o, "backend", v->backend_fd);
	put_u64(e, o, "vhost_hlen", v->vhost_hlen);
	put_u64(e, o, "sock_hlen", v->sock_hlen);
	return o;
}

static json_object *enc_iotlb(struct enc *e, const struct usv_devstate *st)
{
	json_object *a;

	if (!st->has_iotlb)
		return NULL;
	a = json_object_new_array();
	if (!a)
		e->err = -ENOMEM;
	for (uint32_t i = 0; a && i < st->niotlb; i++) {
		json_object *o = jobj(e);

		put_u64(e, o, "start", st->iotlb[i].start);
		put_u64(e, o, "last", st->iotlb[i].last);
		put_u64(e, o, "addr", st->iotlb[i].addr);
		put_u64(e, o, "perm", st->iotlb[i].perm);
		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			e->err = -ENOMEM;
		}
	}
	return a;
}

static json_object *enc_miss(struct enc *e, const struct usv_devstate *st)
{
	json_object *a = json_object_new_array();

	if (!a)
		e->err = -ENOMEM;
	for (unsigned i = 0; a && i < st->nmiss; i++) {
		json_object *o = jobj(e);

		put_u64(e, o, "vq", st->miss[i].vq);
		put_u64(e, o, "iova", st->miss[i].iova);
		put_u64(e, o, "perm", st->miss[i].perm);
		put_bool(e, o, "v2", st->miss[i].v2);
		put_bool(e, o, "read", st->miss[i].read);
		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			e->err = -ENOMEM;
		}
	}
	return a;
}

/* json-c adds NULL as JSON null. */
static void put_nullable(struct enc *e, json_object *o, const char *key, json_object *v)
{
	if (o && json_object_object_add(o, key, v)) {
		json_object_put(v);
		e->err = -ENOMEM;
	}
}

static json_object *encode(struct enc *e, const struct usv_devstate *st)
{
	json_object *o = jobj(e), *f = json_object_new_array(), *vqs = json_object_new_array();

	put_u64(e, o, "version", USV_DEVSTATE_VERSION);
	put_u64(e, o, "handle", st->handle);
	put_u64(e, o, "uid", st->uid);
	put_u64(e, o, "ioctls", st->ioctls);
	put_nullable(e, o, "owner", enc_owner(e, st));
	for (unsigned i = 0; f && i < USV_FEATURES_DWORDS; i++) {
		json_object *v = json_object_new_uint64(st->features[i]);

		if (!v || json_object_array_add(f, v)) {
			json_object_put(v);
			e->err = -ENOMEM;
		}
	}
	put(e, o, "features", f);
	put_u64(e, o, "backend_features", st->backend_features);
	put_nullable(e, o, "mem", enc_mem(e, st));
	put_fd(e, o, "log_fd", st->log_fd);
	for (unsigned i = 0; vqs && i < USV_NET_NVQS; i++) {
		json_object *v = enc_vq(e, &st->vq[i]);

		if (!v || json_object_array_add(vqs, v)) {
			json_object_put(v);
			e->err = -ENOMEM;
		}
	}
	put(e, o, "vqs", vqs);
	put_nullable(e, o, "iotlb", enc_iotlb(e, st));
	put(e, o, "miss", enc_miss(e, st));
	return o;
}

int usv_devstate_save(struct usv_devlist *devs, unsigned handle, json_object **out,
		      struct usv_fdvec *fds)
{
	struct usv_devstate st;
	struct enc e = { .fds = fds };
	unsigned n0 = fds->n;
	json_object *o;
	int ret = usv_devstate_capture(devs, handle, &st);

	if (ret)
		return ret;
	o = encode(&e, &st);
	usv_devstate_clear(&st);
	if (e.err || !o) {
		json_object_put(o);
		fds->n = n0; /* borrowed: nothing to close */
		return e.err ? e.err : -ENOMEM;
	}
	*out = o;
	return 0;
}

/* ---- restore: every value is checked ---------------------------------------- */

struct dec {
	const int *fds;
	unsigned nfds;
	unsigned char *used; /* by index: 1 taken here */
	int err;
};

static json_object *get(struct dec *d, json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		d->err = -EINVAL;
	return v;
}

static uint64_t get_u64_max(struct dec *d, json_object *o, const char *key, uint64_t max)
{
	json_object *v = get(d, o, key);
	uint64_t x;

	/* Integers only (json-c would convert strings and doubles), none
	 * negative. */
	if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
		d->err = -EINVAL;
		return 0;
	}
	x = json_object_get_uint64(v);
	if (x > max) {
		d->err = -EINVAL;
		return 0;
	}
	return x;
}

static uint64_t get_u64(struct dec *d, json_object *o, const char *key)
{
	return get_u64_max(d, o, key, UINT64_MAX);
}

static bool get_bool(struct dec *d, json_object *o, const char *key)
{
	json_object *v = get(d, o, key);

	if (!v || !json_object_is_type(v, json_type_boolean)) {
		d->err = -EINVAL;
		return false;
	}
	return json_object_get_boolean(v);
}

/* An fd index: -1 none, else a handed-over fd not yet used by this state.
 * shared: may repeat the index of *shared (the backend of both rings). */
static int get_fd(struct dec *d, json_object *o, const char *key, int shared_idx,
		  int *idx_out)
{
	json_object *v = get(d, o, key);
	int64_t i;

	if (idx_out)
		*idx_out = -1;
	if (!v || !json_object_is_type(v, json_type_int)) {
		d->err = -EINVAL;
		return -1;
	}
	i = json_object_get_int64(v);
	if (i == -1)
		return -1;
	if (i < 0 || i >= (int64_t)d->nfds || d->fds[i] < 0 || (d->used[i] && i != shared_idx)) {
		d->err = -EINVAL;
		return -1;
	}
	d->used[i] = 1;
	if (idx_out)
		*idx_out = (int)i;
	return d->fds[i];
}

static json_object *get_array(struct dec *d, json_object *o, const char *key,
			      size_t max, size_t *n)
{
	json_object *a = get(d, o, key);

	*n = 0;
	if (!a || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) > max) {
		d->err = -EINVAL;
		return NULL;
	}
	*n = json_object_array_length(a);
	return a;
}

/* A key present with the value null. */
static bool is_null(struct dec *d, json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v)) {
		d->err = -EINVAL;
		return true;
	}
	return v == NULL;
}

static void dec_owner(struct dec *d, json_object *o, struct usv_devstate *st)
{
	json_object *c;
	const char *comm;

	st->pidfd = st->memfd = -1;
	if (is_null(d, o, "owner"))
		return;
	o = get(d, o, "owner");
	st->tgid = (pid_t)get_u64_max(d, o, "tgid", INT_MAX);
	st->probe = get_u64(d, o, "probe");
	c = get(d, o, "comm");
	comm = c && json_object_is_type(c, json_type_string) ? json_object_get_string(c) : NULL;
	if (!comm || strlen(comm) >= sizeof(st->comm))
		d->err = -EINVAL;
	else
		memcpy(st->comm, comm, strlen(comm) + 1);
	st->pidfd = get_fd(d, o, "pidfd", -1, NULL);
	st->memfd = get_fd(d, o, "memfd", -1, NULL);
	if (!st->tgid)
		d->err = -EINVAL; /* an owner is a process */
}

static void dec_mem(struct dec *d, json_object *o, struct usv_devstate *st)
{
	json_object *a;
	size_t n;

	if (is_null(d, o, "mem"))
		return;
	st->has_mem = true;
	a = get_array(d, o, "mem", UINT16_MAX, &n);
	if (!a || !n)
		return;
	st->regions = calloc(n, sizeof(*st->regions));
	if (!st->regions) {
		d->err = -ENOMEM;
		return;
	}
	st->nregions = (uint32_t)n;
	for (size_t i = 0; i < n && !d->err; i++) {
		json_object *r = json_object_array_get_idx(a, i), *m;
		struct usv_devstate_region *g = &st->regions[i];

		g->gpa = get_u64(d, r, "gpa");
		g->size = get_u64(d, r, "size");
		g->uaddr = get_u64(d, r, "uaddr");
		g->fd = -1;
		if (is_null(d, r, "map"))
			continue;
		m = get(d, r, "map");
		g->mapped = true;
		g->fd = get_fd(d, m, "fd", -1, NULL);
		g->map_off = get_u64(d, m, "offset");
		g->map_len = get_u64(d, m, "len");
		g->local_off = get_u64(d, m, "at");
		g->writable = get_bool(d, m, "writable");
		if (g->fd < 0)
			d->err = -EINVAL;
	}
}

static void dec_vq(struct dec *d, json_object *o, struct usv_devstate_vq *v,
		   int shared_idx, int *backend_idx)
{
	v->num = (uint32_t)get_u64_max(d, o, "num", UINT32_MAX);
	v->desc = get_u64(d, o, "desc");
	v->avail = get_u64(d, o, "avail");
	v->used = get_u64(d, o, "used");
	v->log_used = get_bool(d, o, "log_used");
	v->log_addr = get_u64(d, o, "log_addr");
	v->log_base = get_u64(d, o, "log_base");
	v->last_avail_idx = (uint16_t)get_u64_max(d, o, "last_avail_idx", UINT16_MAX);
	v->avail_idx = (uint16_t)get_u64_max(d, o, "avail_idx", UINT16_MAX);
	v->last_used_idx = (uint16_t)get_u64_max(d, o, "last_used_idx", UINT16_MAX);
	v->used_flags = (uint16_t)get_u64_max(d, o, "used_flags", UINT16_MAX);
	v->busyloop_timeout = (uint32_t)get_u64_max(d, o, "busyloop_timeout", UINT32_MAX);
	v->kick_fd = get_fd(d, o, "kick", -1, NULL);
	v->call_fd = get_fd(d, o, "call", -1, NULL);
	v->err_fd = get_fd(d, o, "err", -1, NULL);
	v->backend_fd = get_fd(d, o, "backend", shared_idx, backend_idx);
	v->vhost_hlen = (uint32_t)get_u64_max(d, o, "vhost_hlen", UINT32_MAX);
	v->sock_hlen = (uint32_t)get_u64_max(d, o, "sock_hlen", UINT32_MAX);
}

static void dec_iotlb(struct dec *d, json_object *o, struct usv_devstate *st)
{
	json_object *a;
	size_t n;

	if (is_null(d, o, "iotlb"))
		return;
	st->has_iotlb = true;
	a = get_array(d, o, "iotlb", USV_IOTLB_MAX_ENTRIES, &n);
	if (!a || !n)
		return;
	st->iotlb = calloc(n, sizeof(*st->iotlb));
	if (!st->iotlb) {
		d->err = -ENOMEM;
		return;
	}
	st->niotlb = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(a, i);

		st->iotlb[i].start = get_u64(d, t, "start");
		st->iotlb[i].last = get_u64(d, t, "last");
		st->iotlb[i].addr = get_u64(d, t, "addr");
		st->iotlb[i].perm = (uint8_t)get_u64_max(d, t, "perm", UINT8_MAX);
	}
}

static void dec_miss(struct dec *d, json_object *o, struct usv_devstate *st)
{
	size_t n;
	json_object *a = get_array(d, o, "miss", USV_IOTLB_MSGQ_MAX, &n);

	if (!a || !n)
		return;
	st->miss = calloc(n, sizeof(*st->miss));
	if (!st->miss) {
		d->err = -ENOMEM;
		return;
	}
	st->nmiss = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(a, i);

		st->miss[i].vq = (unsigned)get_u64_max(d, m, "vq", UINT_MAX);
		st->miss[i].iova = get_u64(d, m, "iova");
		st->miss[i].perm = (uint8_t)get_u64_max(d, m, "perm", UINT8_MAX);
		st->miss[i].v2 = get_bool(d, m, "v2");
		st->miss[i].read = get_bool(d, m, "read");
	}
}

static void decode(struct dec *d, json_object *o, struct usv_devstate *st)
{
	json_object *f, *vqs;
	size_t n;
	int backend0 = -1;

	memset(st, 0, sizeof(*st));
	st->log_fd = -1;
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		st->vq[i].kick_fd = st->vq[i].call_fd = st->vq[i].err_fd =
			st->vq[i].backend_fd = -1;
	if (get_u64(d, o, "version") != USV_DEVSTATE_VERSION) {
		d->err = -EINVAL;
		return;
	}
	st->handle = (unsigned)get_u64_max(d, o, "handle", UINT_MAX - 1);
	st->uid = (uid_t)get_u64_max(d, o, "uid", (uid_t)-2);
	st->ioctls = get_u64(d, o, "ioctls");
	dec_owner(d, o, st);
	f = get_array(d, o, "features", USV_FEATURES_DWORDS, &n);
	if (f && !n)
		d->err = -EINVAL;
	for (size_t i = 0; f && i < n; i++) {
		json_object *v = json_object_array_get_idx(f, i);

		if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
			d->err = -EINVAL;
		else
			st->features[i] = json_object_get_uint64(v);
	}
	st->backend_features = get_u64(d, o, "backend_features");
	dec_mem(d, o, st);
	st->log_fd = get_fd(d, o, "log_fd", -1, NULL);
	vqs = get_array(d, o, "vqs", USV_NET_NVQS, &n);
	if (vqs && n != USV_NET_NVQS)
		d->err = -EINVAL;
	for (size_t i = 0; vqs && i < n && !d->err; i++)
		dec_vq(d, json_object_array_get_idx(vqs, i), &st->vq[i], i ? backend0 : -1,
		       i ? NULL : &backend0);
	dec_iotlb(d, o, st);
	dec_miss(d, o, st);
}

int usv_devstate_restore(struct usv_devlist *devs, json_object *state, int *fds,
			 unsigned nfds)
{
	struct dec d = { .fds = fds, .nfds = nfds };
	struct usv_devstate st;
	int ret;

	d.used = calloc(nfds ? nfds : 1, 1);
	if (!d.used)
		return -ENOMEM;
	decode(&d, state, &st);
	ret = d.err ? d.err : usv_devstate_install(devs, &st);
	if (!ret)
		for (unsigned i = 0; i < nfds; i++)
			if (d.used[i])
				fds[i] = -1; /* the device's now */
	usv_devstate_clear(&st);
	free(d.used);
	return ret;
}
