/* SPDX-License-Identifier: MIT */
/*
 * The ioctl table: one row per vhost ioctl, and the only place that says
 * what an ioctl is and carries. Dispatch (core/dispatch.c) takes the path
 * and handler from it; log text and --inject's tail (core/ioctl_schema.c),
 * trace JSON both ways (trace/payload.c), replay, --inject's plausible
 * errnos and the profiles' kernel check read its payload schema. A test
 * holds usvhost-trace(5)'s lists against it. The table imports nothing from
 * its users.
 *
 * Paths mirror the kernel's vhost_net_ioctl():
 *   NET   - handled before any owner check (features, owners, backend);
 *   DEV   - vhost_dev_ioctl(): owner check (EPERM), then the handler;
 *   VRING - vhost_vring_ioctl(): owner check, u32 index read at arg (EFAULT),
 *           index >= 2 (ENOBUFS), then the handler, or ENOTTY without one.
 * Numbers not in the table take the VRING path with no handler, which is the
 * kernel's fall-through for unknown ioctls: EPERM / EFAULT / ENOBUFS / ENOTTY.
 */
#ifndef USV_CORE_IOCTL_TABLE_H
#define USV_CORE_IOCTL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/device.h"
#include "core/request.h"

enum usv_ioctl_path {
	USV_PATH_NET,
	USV_PATH_DEV,
	USV_PATH_VRING,
};

/*
 * The payload schema: what an ioctl reads at arg (in) and writes back (out).
 * Logs, traces, replay, --inject and the profiles read it; nothing else
 * restates what an ioctl carries.
 */
enum usv_field_kind {
	USV_FK_INDEX,    /* u32 ring index: the vring path reads it first */
	USV_FK_U32,      /* u32, decimal */
	USV_FK_FLAGS32,  /* u32 flags: hex in logs, an integer in traces */
	USV_FK_COUNT64,  /* u64 count, decimal */
	USV_FK_HEX64,    /* u64, "0x..." */
	USV_FK_FEATURES, /* u64 feature word: as HEX64, traces add the names */
	USV_FK_FD,       /* s32 fd of the caller: traces add what file it is */
	USV_FK_UADDR,    /* u64 address in the caller (replay translates it) */
	USV_FK_LOG_BASE, /* u64 address of the dirty log (replay makes one) */
	USV_FK_REGION,   /* u64 address of a memory region whose size is the
			  * element's USV_FF_SIZE field (replay maps one) */
};

enum usv_field_flag {
	USV_FF_BARE = 1 << 0,       /* log the value alone, without "name=" */
	USV_FF_LOG_NONZERO = 1 << 1, /* log it only when it is not 0 */
	USV_FF_NO_LOG = 1 << 2,     /* traces only */
	USV_FF_RING_POS = 1 << 3,   /* where the ring stands: set by a SET, and
				     * traffic-dependent in a GET after the ring ran */
	USV_FF_SIZE = 1 << 4,       /* the size of the element's USV_FK_REGION */
};

struct usv_ioctl_field {
	const char *name; /* the trace's key and the log's "name=" */
	uint32_t off;
	enum usv_field_kind kind; /* the width follows: usv_ioctl_field_width() */
	unsigned flags;           /* enum usv_field_flag */
};

/*
 * The variable tail: count elements of elem_size bytes at off, the count
 * being field count_field of the in payload. The kernel uses at most max of
 * them (0: the count alone bounds it, the handler checks it): logs and
 * --inject's read stop there, traces keep every element the ioctl read.
 */
struct usv_ioctl_array {
	const char *name;
	uint32_t off;
	uint32_t elem_size;
	uint32_t max;
	unsigned count_field;
	/* An element: these fields (an object in traces), or, with none, one
	 * scalar of elem_kind (an array of values in traces). */
	const struct usv_ioctl_field *elem;
	unsigned nelem;
	enum usv_field_kind elem_kind;
	/* An out tail the handler fills with the profile's feature words, past
	 * the contiguous capture of arg: traces take them from the profile. */
	bool profile_words;
};

struct usv_ioctl_payload {
	const struct usv_ioctl_field *fields; /* at fixed offsets, in order */
	unsigned nfields;
	const struct usv_ioctl_array *array;  /* or NULL */
};

/* A Linux version, for .since and profiles: USV_KVER(6, 17). */
#define USV_KVER(major, minor) ((uint32_t)(major) << 16 | (uint32_t)(minor) << 8)

struct usv_ioctl_desc {
	uint32_t cmd;
	const char *name; /* without the VHOST_ prefix */
	enum usv_ioctl_path path;
	uint32_t in_size;  /* fixed bytes read at arg */
	uint32_t out_size; /* fixed bytes written at arg */
	bool varlen;       /* reads or writes past the fixed part */
	int (*dev_fn)(struct usv_dev *dev, struct usv_req *req);
	int (*vq_fn)(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
	struct usv_ioctl_payload in;
	struct usv_ioctl_payload out;
	/* What Linux's vhost-net can answer (0-terminated); NULL: the unknown
	 * path's EPERM, EFAULT, ENOBUFS, ENOTTY. */
	const int *errnos;
	/* The Linux version whose vhost-net first serves it; 0: every kernel a
	 * profile mimics has it, or vhost-net never serves it (other vhost
	 * devices' ioctls take the unknown path on every kernel). */
	uint32_t since;
};

/* The row for cmd, or NULL for a number the table does not know. */
const struct usv_ioctl_desc *usv_ioctl_lookup(uint32_t cmd);
/* The row named name (without VHOST_, any case), or NULL. */
const struct usv_ioctl_desc *usv_ioctl_lookup_name(const char *name);
/* Every row, for docs and tests. */
const struct usv_ioctl_desc *usv_ioctl_rows(unsigned *count);

/* "NAME args" for logs; the name is "0x%08x" for unknown numbers. */
void usv_ioctl_describe(const struct usv_req *req, char *buf, size_t n);
/* What a successful req wrote back, for logs ("" when nothing). */
void usv_ioctl_describe_out(const struct usv_req *req, char *buf, size_t n);

/* ---- the schema, row by row (core/ioctl_schema.c) ---- */

unsigned usv_ioctl_field_width(enum usv_field_kind kind);
/* Does the field lie within len bytes? Its value (fd: sign-extended). */
bool usv_ioctl_field_fits(const struct usv_ioctl_field *f, size_t len);
uint64_t usv_ioctl_field_get(const struct usv_ioctl_field *f, const uint8_t *p);
void usv_ioctl_field_put(const struct usv_ioctl_field *f, uint8_t *p, uint64_t v);
/*
 * Which fields a capture of len bytes shows: a leading ring index once its
 * four bytes are there (the vring path reads it alone), every other field
 * once the whole fixed part is.
 */
bool usv_ioctl_field_shown(const struct usv_ioctl_payload *pl, unsigned i, size_t len);
/* The array's element count as the fixed part at p says (len bytes). */
bool usv_ioctl_array_count(const struct usv_ioctl_payload *pl, const uint8_t *p,
			   size_t len, uint64_t *count);
/* Log text of one payload ("index=0 num=256"), appended to buf. */
void usv_ioctl_decode(const struct usv_ioctl_payload *pl, const uint8_t *p,
		      size_t len, char *buf, size_t n);
/* Bytes the ioctl reads past its fixed part, given the fixed part at p. */
uint64_t usv_ioctl_tail_bytes(const struct usv_ioctl_desc *d, const uint8_t *p,
			      size_t len);
/* Can Linux's vhost-net answer d (NULL: an unknown number) with err? */
bool usv_ioctl_errno_plausible(const struct usv_ioctl_desc *d, int err);
/* Does a kernel of version kernel have d? */
bool usv_ioctl_in_kernel(const struct usv_ioctl_desc *d, uint32_t kernel);
/* Is the in payload just a ring index (or nothing)? The unknown path's is. */
bool usv_ioctl_index_only(const struct usv_ioctl_payload *pl);

#endif
