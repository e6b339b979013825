/* SPDX-License-Identifier: MIT */
#include "trace/payload.h"

#include "core/bytes.h"
#include "trace/format.h"

static json_object *value_json(enum usv_field_kind kind, uint64_t v)
{
	switch (kind) {
	case USV_FK_INDEX:
	case USV_FK_U32:
	case USV_FK_FLAGS32:
	case USV_FK_COUNT64:
	case USV_FK_FD:
		return json_object_new_int64((int64_t)v);
	default: /* words and addresses may pass 2^53 */
		return usv_tj_hex(v);
	}
}

static void add_field(json_object *o, const struct usv_ioctl_field *f, uint64_t v,
		      usv_tj_file_fn file, void *ctx)
{
	json_object *j;

	json_object_object_add(o, f->name, value_json(f->kind, v));
	if (f->kind == USV_FK_FEATURES)
		json_object_object_add(o, "names", usv_tj_feature_names(v, 0));
	if (f->kind == USV_FK_FD && file && (j = file(ctx, (int)(int64_t)v)))
		json_object_object_add(o, "file", j);
}

void usv_tj_payload_encode(json_object *o, const struct usv_ioctl_payload *pl,
			   const uint8_t *p, size_t len, usv_tj_file_fn file,
			   void *ctx)
{
	const struct usv_ioctl_array *a = pl->array;
	json_object *arr;
	uint64_t count;

	for (unsigned i = 0; i < pl->nfields; i++)
		if (usv_ioctl_field_shown(pl, i, len))
			add_field(o, &pl->fields[i], usv_ioctl_field_get(&pl->fields[i], p),
				  file, ctx);
	if (!usv_ioctl_array_count(pl, p, len, &count))
		return;
	arr = json_object_new_array();
	for (uint64_t i = 0; i < count && a->off + (i + 1) * a->elem_size <= len; i++) {
		const uint8_t *e = p + a->off + i * a->elem_size;
		json_object *eo;

		if (!a->nelem) {
			json_object_array_add(arr, value_json(a->elem_kind == USV_FK_FEATURES ?
							      USV_FK_HEX64 : a->elem_kind,
							      a->elem_size == 4 ? usv_get32(e) :
							      usv_get64(e)));
			continue;
		}
		eo = json_object_new_object();
		for (unsigned k = 0; k < a->nelem; k++)
			add_field(eo, &a->elem[k], usv_ioctl_field_get(&a->elem[k], e), file, ctx);
		json_object_array_add(arr, eo);
	}
	json_object_object_add(o, a->name, arr);
}

/* A record's value: "0x..." or decimal strings, or integers; def if absent. */
static uint64_t get_u64(json_object *o, const char *key, uint64_t def)
{
	int64_t i;
	uint64_t v;

	if (usv_tj_u64(o, key, &v))
		return v;
	if (usv_tj_i64(o, key, &i))
		return (uint64_t)i;
	return def;
}

static void build_fields(const struct usv_ioctl_field *fields, unsigned n, json_object *o,
			 uint8_t *p, size_t room, usv_tj_map_fn map, void *ctx)
{
	uint64_t size = 0;

	for (unsigned i = 0; i < n; i++)
		if (fields[i].flags & USV_FF_SIZE)
			size = get_u64(o, fields[i].name, 0);
	for (unsigned i = 0; i < n; i++) {
		const struct usv_ioctl_field *f = &fields[i];
		/* An fd not recorded is -1 (unbind), as the kernel reads it. */
		uint64_t v = get_u64(o, f->name, f->kind == USV_FK_FD ? UINT64_MAX : 0);

		if (!usv_ioctl_field_fits(f, room))
			continue;
		if (map && (f->kind == USV_FK_FD || f->kind == USV_FK_UADDR ||
			    f->kind == USV_FK_LOG_BASE || f->kind == USV_FK_REGION))
			v = map(ctx, f, v, size, o);
		usv_ioctl_field_put(f, p, v);
	}
}

void usv_tj_payload_build(const struct usv_ioctl_payload *pl, json_object *o,
			  uint8_t *buf, size_t cap, usv_tj_map_fn map, void *ctx)
{
	const struct usv_ioctl_array *a = pl->array;
	json_object *arr;

	build_fields(pl->fields, pl->nfields, o, buf, cap, map, ctx);
	if (!a || !(arr = usv_tj_arr(o, a->name)))
		return;
	for (size_t i = 0; i < json_object_array_length(arr) &&
			   a->off + (i + 1) * a->elem_size <= cap; i++) {
		json_object *e = json_object_array_get_idx(arr, i), *w;
		uint8_t *p = buf + a->off + i * a->elem_size;

		if (a->nelem) {
			build_fields(a->elem, a->nelem, e, p, a->elem_size, map, ctx);
			continue;
		}
		/* A bare value: read it as a member would be read. */
		w = json_object_new_object();
		json_object_object_add(w, "v", json_object_get(e));
		usv_ioctl_field_put(&(struct usv_ioctl_field){ .kind = a->elem_kind }, p,
				    get_u64(w, "v", 0));
		json_object_put(w);
	}
}
