/* SPDX-License-Identifier: MIT */
/*
 * Reading the payload schema of the ioctl table: field values, which fields
 * a capture shows, log text, the variable tail, errnos and kernel versions.
 * Everything here works on a row, so a row is all a new ioctl needs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/ioctl_table.h"

unsigned usv_ioctl_field_width(enum usv_field_kind kind)
{
	switch (kind) {
	case USV_FK_INDEX:
	case USV_FK_U32:
	case USV_FK_FLAGS32:
	case USV_FK_FD:
		return 4;
	default:
		return 8;
	}
}

bool usv_ioctl_field_fits(const struct usv_ioctl_field *f, size_t len)
{
	return f->off + usv_ioctl_field_width(f->kind) <= len;
}

uint64_t usv_ioctl_field_get(const struct usv_ioctl_field *f, const uint8_t *p)
{
	if (f->kind == USV_FK_FD)
		return (uint64_t)(int64_t)(int32_t)usv_get32(p + f->off);
	if (usv_ioctl_field_width(f->kind) == 4)
		return usv_get32(p + f->off);
	return usv_get64(p + f->off);
}

void usv_ioctl_field_put(const struct usv_ioctl_field *f, uint8_t *p, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;

	if (usv_ioctl_field_width(f->kind) == 4)
		memcpy(p + f->off, &v32, sizeof(v32));
	else
		memcpy(p + f->off, &v, sizeof(v));
}

bool usv_ioctl_field_shown(const struct usv_ioctl_payload *pl, unsigned i, size_t len)
{
	size_t end = 0;

	if (i == 0 && pl->fields[0].kind == USV_FK_INDEX)
		return usv_ioctl_field_fits(&pl->fields[0], len);
	for (unsigned k = 0; k < pl->nfields; k++) {
		size_t e = pl->fields[k].off + usv_ioctl_field_width(pl->fields[k].kind);

		if (e > end)
			end = e;
	}
	return len >= end;
}

bool usv_ioctl_array_count(const struct usv_ioctl_payload *pl, const uint8_t *p,
			   size_t len, uint64_t *count)
{
	unsigned c = pl->array ? pl->array->count_field : 0;

	if (!pl->array || c >= pl->nfields || !usv_ioctl_field_shown(pl, c, len))
		return false;
	*count = usv_ioctl_field_get(&pl->fields[c], p);
	return true;
}

bool usv_ioctl_index_only(const struct usv_ioctl_payload *pl)
{
	return !pl->array && (pl->nfields == 0 ||
			      (pl->nfields == 1 && pl->fields[0].kind == USV_FK_INDEX));
}

/* Bounded appending to a buffer. */
static void app(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void app(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strnlen(buf, n);
	va_list ap;

	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

static void app_value(enum usv_field_kind kind, uint64_t v, char *buf, size_t n)
{
	switch (kind) {
	case USV_FK_INDEX:
	case USV_FK_U32:
	case USV_FK_COUNT64:
		app(buf, n, "%" PRIu64, v);
		break;
	case USV_FK_FD:
		app(buf, n, "%" PRId64, (int64_t)v);
		break;
	default: /* flags, words and addresses */
		app(buf, n, "0x%" PRIx64, v);
		break;
	}
}

/* "name=value" (or the value alone), after a space unless it comes first. */
static void app_field(const struct usv_ioctl_field *f, uint64_t v, bool *first,
		      char *buf, size_t n)
{
	if (f->flags & USV_FF_NO_LOG || (f->flags & USV_FF_LOG_NONZERO && !v))
		return;
	app(buf, n, "%s", *first ? "" : " ");
	*first = false;
	if (!(f->flags & USV_FF_BARE))
		app(buf, n, "%s=", f->name);
	app_value(f->kind, v, buf, n);
}

void usv_ioctl_decode(const struct usv_ioctl_payload *pl, const uint8_t *p,
		      size_t len, char *buf, size_t n)
{
	const struct usv_ioctl_array *a = pl->array;
	bool first = true, open = false;
	uint64_t count;

	for (unsigned i = 0; i < pl->nfields; i++)
		if (usv_ioctl_field_shown(pl, i, len))
			app_field(&pl->fields[i], usv_ioctl_field_get(&pl->fields[i], p), &first,
				  buf, n);
	if (!usv_ioctl_array_count(pl, p, len, &count))
		return;
	/* The elements the kernel uses; a trace keeps every one read. */
	for (uint64_t i = 0; i < count && (!a->max || i < a->max) &&
			     a->off + (i + 1) * a->elem_size <= len; i++) {
		const uint8_t *e = p + a->off + i * a->elem_size;
		bool efirst = true;

		if (!a->nelem) {
			app(buf, n, "%s", open ? "," : " [");
			open = true;
			app_value(a->elem_kind, a->elem_size == 4 ? usv_get32(e) : usv_get64(e),
				  buf, n);
			continue;
		}
		app(buf, n, " {");
		for (unsigned k = 0; k < a->nelem; k++)
			app_field(&a->elem[k], usv_ioctl_field_get(&a->elem[k], e), &efirst, buf, n);
		app(buf, n, "}");
	}
	if (open)
		app(buf, n, "]");
}

uint64_t usv_ioctl_tail_bytes(const struct usv_ioctl_desc *d, const uint8_t *p,
			      size_t len)
{
	const struct usv_ioctl_array *a = d->in.array;
	uint64_t count;

	if (!usv_ioctl_array_count(&d->in, p, len, &count))
		return 0;
	if (a->max && count > a->max)
		count = a->max;
	return count > UINT64_MAX / a->elem_size ? UINT64_MAX : count * a->elem_size;
}

bool usv_ioctl_errno_plausible(const struct usv_ioctl_desc *d, int err)
{
	/* The unknown path: owner check, ring index, no handler. */
	static const int unknown[] = { EPERM, EFAULT, ENOBUFS, ENOTTY, 0 };

	for (const int *e = d && d->errnos ? d->errnos : unknown; *e; e++)
		if (*e == err)
			return true;
	return false;
}

bool usv_ioctl_in_kernel(const struct usv_ioctl_desc *d, uint32_t kernel)
{
	return kernel >= d->since;
}

void usv_ioctl_describe(const struct usv_req *req, char *buf, size_t n)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(req->cmd);

	buf[0] = '\0';
	if (d)
		app(buf, n, "%s", d->name);
	else
		app(buf, n, "0x%08x", req->cmd);
	if (d && d->in.nfields && req->in.len) {
		app(buf, n, " ");
		usv_ioctl_decode(&d->in, req->in.buf, req->in.len, buf, n);
	} else if (!d && req->in.len >= 4) {
		app(buf, n, " index=%u", usv_get32(req->in.buf));
	}
}

void usv_ioctl_describe_out(const struct usv_req *req, char *buf, size_t n)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(req->cmd);

	buf[0] = '\0';
	if (d && d->out.nfields && req->out.len)
		usv_ioctl_decode(&d->out, req->out.buf, req->out.len, buf, n);
}
