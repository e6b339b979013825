/* SPDX-License-Identifier: MIT */
/*
 * usv_front_state in JSON, for the hand-over message. Decoding trusts
 * nothing: every member must be there with its type and range, and no other
 * member may be.
 *
 *   {"cuse":false,"name":"","mount":"/run/usvhost","mode":432,"gid":0,
 *    "proto_major":7,"proto_minor":38,"max_readahead":131072,
 *    "init_flags":"0x73fffffb"}
 *
 * init_flags is a hex string: json-c integers are signed 64-bit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "front/front.h"

static const char *const members[] = {
	"cuse", "name", "mount", "mode", "gid", "proto_major", "proto_minor",
	"max_readahead", "init_flags",
};

static int add(json_object *o, const char *key, json_object *v)
{
	if (!v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int usv_front_state_to_json(const struct usv_front_state *s, json_object **out)
{
	json_object *o = json_object_new_object();
	char flags[24];
	int ret;

	if (!o)
		return -ENOMEM;
	snprintf(flags, sizeof(flags), "0x%" PRIx64, s->init_flags);
	ret = add(o, "cuse", json_object_new_boolean(s->cuse));
	ret = ret ?: add(o, "name", json_object_new_string(s->name));
	ret = ret ?: add(o, "mount", json_object_new_string(s->mount));
	ret = ret ?: add(o, "mode", json_object_new_int64(s->mode));
	ret = ret ?: add(o, "gid", json_object_new_int64(s->gid));
	ret = ret ?: add(o, "proto_major", json_object_new_int64(s->proto_major));
	ret = ret ?: add(o, "proto_minor", json_object_new_int64(s->proto_minor));
	ret = ret ?: add(o, "max_readahead", json_object_new_int64(s->max_readahead));
	ret = ret ?: add(o, "init_flags", json_object_new_string(flags));
	if (ret) {
		json_object_put(o);
		return ret;
	}
	*out = o;
	return 0;
}

/* An integer member in [lo, hi]. */
static int get_int(json_object *j, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
	json_object *m;

	if (!json_object_object_get_ex(j, key, &m) || !json_object_is_type(m, json_type_int))
		return -EINVAL;
	errno = 0;
	*v = json_object_get_int64(m);
	/* json-c clamps what does not fit, and says so in errno. */
	if (errno || *v < lo || *v > hi)
		return -EINVAL;
	return 0;
}

/* A string member that fits in size bytes with its NUL. */
static int get_str(json_object *j, const char *key, char *dst, size_t size)
{
	json_object *m;
	const char *s;
	size_t len;

	if (!json_object_object_get_ex(j, key, &m) || !json_object_is_type(m, json_type_string))
		return -EINVAL;
	s = json_object_get_string(m);
	len = (size_t)json_object_get_string_len(m);
	if (len >= size || strlen(s) != len) /* no NUL inside */
		return -EINVAL;
	memcpy(dst, s, len + 1);
	return 0;
}

static int get_flags(json_object *j, uint64_t *v)
{
	char buf[24], *end;

	if (get_str(j, "init_flags", buf, sizeof(buf)) ||
	    strncmp(buf, "0x", 2) || !buf[2] || strspn(buf + 2, "0123456789abcdef") !=
	    strlen(buf + 2) || strlen(buf + 2) > 16)
		return -EINVAL;
	*v = strtoull(buf + 2, &end, 16);
	return *end ? -EINVAL : 0;
}

static bool only_known_members(json_object *j)
{
	json_object_object_foreach(j, key, val) {
		bool known = false;

		(void)val;
		for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
			known |= !strcmp(key, members[i]);
		if (!known)
			return false;
	}
	return true;
}

/* The front's identity: a CUSE name as usvhostd takes it, an absolute
 * mount directory. */
static bool identity_ok(const struct usv_front_state *t)
{
	return t->cuse ? t->name[0] && !strchr(t->name, '/') && !t->mount[0]
		       : t->mount[0] == '/' && !t->name[0];
}

void usv_front_identity(const struct usv_front_config *cfg, bool cuse,
			struct usv_front_state *st)
{
	memset(st, 0, sizeof(*st));
	st->cuse = cuse;
	if (cuse)
		snprintf(st->name, sizeof(st->name), "%s", cfg->name ? cfg->name : "");
	else
		snprintf(st->mount, sizeof(st->mount), "%s", cfg->mount ? cfg->mount : "");
	st->mode = cfg->mode;
	st->gid = cfg->gid;
}

int usv_front_identity_to_json(const struct usv_front_state *s, json_object *o)
{
	int ret = add(o, "transport", json_object_new_string(s->cuse ? "cuse" : "fuse"));

	if (s->cuse)
		return ret ?: add(o, "name", json_object_new_string(s->name));
	ret = ret ?: add(o, "mount", json_object_new_string(s->mount));
	ret = ret ?: add(o, "mode", json_object_new_int64(s->mode));
	return ret ?: add(o, "gid", json_object_new_int64(s->gid));
}

int usv_front_identity_from_json(json_object *j, struct usv_front_state *s)
{
	struct usv_front_state t;
	int64_t mode = 0, gid = 0;
	char transport[8];
	int ret;

	memset(&t, 0, sizeof(t));
	if (!json_object_object_get_ex(j, "transport", NULL))
		return 0;
	ret = get_str(j, "transport", transport, sizeof(transport));
	if (!ret && strcmp(transport, "cuse") && strcmp(transport, "fuse"))
		ret = -EINVAL;
	t.cuse = !ret && !strcmp(transport, "cuse");
	if (t.cuse) {
		ret = ret ?: get_str(j, "name", t.name, sizeof(t.name));
	} else {
		ret = ret ?: get_str(j, "mount", t.mount, sizeof(t.mount));
		ret = ret ?: get_int(j, "mode", 0, 07777, &mode);
		ret = ret ?: get_int(j, "gid", 0, UINT32_MAX - 1, &gid);
	}
	if (ret || !identity_ok(&t))
		return -EINVAL;
	t.mode = (mode_t)mode;
	t.gid = (gid_t)gid;
	*s = t;
	return 1;
}

int usv_front_state_from_json(json_object *j, struct usv_front_state *s)
{
	struct usv_front_state t;
	json_object *m;
	int64_t mode, gid, major, minor, ra;
	int ret;

	memset(&t, 0, sizeof(t));
	if (!json_object_is_type(j, json_type_object) || !only_known_members(j) ||
	    !json_object_object_get_ex(j, "cuse", &m) ||
	    !json_object_is_type(m, json_type_boolean))
		return -EINVAL;
	t.cuse = json_object_get_boolean(m);
	ret = get_str(j, "name", t.name, sizeof(t.name));
	ret = ret ?: get_str(j, "mount", t.mount, sizeof(t.mount));
	ret = ret ?: get_int(j, "mode", 0, 07777, &mode);
	ret = ret ?: get_int(j, "gid", 0, UINT32_MAX - 1, &gid);
	/* libfuse speaks major 7 only (it refuses less, and waits for a
	 * second INIT after more). */
	ret = ret ?: get_int(j, "proto_major", 7, 7, &major);
	ret = ret ?: get_int(j, "proto_minor", 0, UINT32_MAX, &minor);
	ret = ret ?: get_int(j, "max_readahead", 0, UINT32_MAX, &ra);
	ret = ret ?: get_flags(j, &t.init_flags);
	if (ret)
		return ret;
	if (!identity_ok(&t))
		return -EINVAL;
	if (t.cuse && ra)
		return -EINVAL;
	t.mode = (mode_t)mode;
	t.gid = (gid_t)gid;
	t.proto_major = (unsigned)major;
	t.proto_minor = (unsigned)minor;
	t.max_readahead = (unsigned)ra;
	*s = t;
	return 0;
}
