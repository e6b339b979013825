/* SPDX-License-Identifier: MIT */
/*
 * The rows of the ioctl table (core/ioctl_table.h): one per vhost ioctl,
 * with its path, handler, payload schema, errnos and kernel version. What
 * reads the schema is in core/ioctl_schema.c.
 */
#include "core/ioctl_table.h"

#include <errno.h>
#include <strings.h>

#include "core/vhost_ops.h"

#define ST sizeof(struct usv_vhost_vring_state)
#define FL sizeof(struct usv_vhost_vring_file)
#define AD sizeof(struct usv_vhost_vring_addr)

/* A field list and its length, for .fields / .nfields. */
#define FIELDS(...)                                                            \
	.fields = (const struct usv_ioctl_field[]){ __VA_ARGS__ },             \
	.nfields = sizeof((const struct usv_ioctl_field[]){ __VA_ARGS__ }) /    \
		   sizeof(struct usv_ioctl_field)
#define ERRNOS(...) ((const int[]){ __VA_ARGS__, 0 })

/* The payloads, written once for every row that carries the same kernel struct. */
#define P_INDEX { \
	FIELDS({ .name = "index", .off = 0, .kind = USV_FK_INDEX }) }
/* struct vhost_vring_state */
#define P_STATE { \
	FIELDS({ .name = "index", .off = 0, .kind = USV_FK_INDEX }, \
	       { .name = "num", .off = 4, .kind = USV_FK_U32 }) }
/* struct vhost_vring_state of SET/GET_VRING_BASE: num is where the ring stands */
#define P_BASE { \
	FIELDS({ .name = "index", .off = 0, .kind = USV_FK_INDEX }, \
	       { .name = "num", .off = 4, .kind = USV_FK_U32, .flags = USV_FF_RING_POS }) }
/* struct vhost_vring_file */
#define P_FILE { \
	FIELDS({ .name = "index", .off = 0, .kind = USV_FK_INDEX }, \
	       { .name = "fd", .off = 4, .kind = USV_FK_FD }) }
/* struct vhost_vring_addr; log is a guest address */
#define P_ADDR { \
	FIELDS({ .name = "index", .off = 0, .kind = USV_FK_INDEX }, \
	       { .name = "flags", .off = 4, .kind = USV_FK_FLAGS32 }, \
	       { .name = "desc", .off = 8, .kind = USV_FK_UADDR }, \
	       { .name = "used", .off = 16, .kind = USV_FK_UADDR }, \
	       { .name = "avail", .off = 24, .kind = USV_FK_UADDR }, \
	       { .name = "log", .off = 32, .kind = USV_FK_HEX64 }) }
#define P_FEATURES { \
	FIELDS({ .name = "features", .off = 0, .kind = USV_FK_FEATURES, \
		 .flags = USV_FF_BARE }) }
#define P_BACKEND_FEATURES { \
	FIELDS({ .name = "features", .off = 0, .kind = USV_FK_HEX64, .flags = USV_FF_BARE }) }
/* struct vhost_memory and its regions */
static const struct usv_ioctl_field region[] = {
	{ .name = "gpa", .off = 0, .kind = USV_FK_HEX64 },
	{ .name = "size", .off = 8, .kind = USV_FK_HEX64, .flags = USV_FF_SIZE },
	{ .name = "uaddr", .off = 16, .kind = USV_FK_REGION },
	{ .name = "flags_padding", .off = 24, .kind = USV_FK_HEX64, .flags = USV_FF_NO_LOG },
};
#define P_MEM { \
	FIELDS({ .name = "nregions", .off = 0, .kind = USV_FK_U32 }, \
	       { .name = "padding", .off = 4, .kind = USV_FK_U32, \
		 .flags = USV_FF_LOG_NONZERO }), \
	.array = &(const struct usv_ioctl_array){ \
		.name = "regions", .off = 8, .count_field = 0, \
		.elem_size = sizeof(struct usv_vhost_memory_region), \
		.elem = region, .nelem = sizeof(region) / sizeof(region[0]), \
	} }
/* struct vhost_features_array: count, then the words */
#define P_SET_ARRAY { \
	FIELDS({ .name = "count", .off = 0, .kind = USV_FK_COUNT64 }), \
	.array = &(const struct usv_ioctl_array){ \
		.name = "features", .off = 8, .count_field = 0, .elem_size = 8, \
		.max = USV_FEATURES_DWORDS, .elem_kind = USV_FK_FEATURES, \
	} }
#define P_COUNT { \
	FIELDS({ .name = "count", .off = 0, .kind = USV_FK_COUNT64 }) }
#define P_GET_ARRAY { \
	FIELDS({ .name = "count", .off = 0, .kind = USV_FK_COUNT64 }), \
	.array = &(const struct usv_ioctl_array){ \
		.name = "features", .off = 8, .count_field = 0, .elem_size = 8, \
		.max = USV_FEATURES_DWORDS, .elem_kind = USV_FK_FEATURES, \
		.profile_words = true, \
	} }

/* What Linux's vhost-net can answer, read from drivers/vhost (net.c,
 * vhost.c): the generic checks of the dev/vring paths, each handler's own
 * errors, and ENOMEM where the handler allocates. */
#define E_GET ERRNOS(EFAULT)
#define E_SET_OTHER_FEATURES ERRNOS(EFAULT, EOPNOTSUPP)
#define E_VRING_STATE ERRNOS(EPERM, EFAULT, ENOBUFS, EBUSY, EINVAL)
#define E_VRING_GET ERRNOS(EPERM, EFAULT, ENOBUFS)
#define E_VRING_FILE ERRNOS(EPERM, EFAULT, ENOBUFS, EBADF, EINVAL)

static const struct usv_ioctl_desc rows[] = {
	{
		.cmd = USV_VHOST_GET_FEATURES, .name = "GET_FEATURES",
		.path = USV_PATH_NET, .out_size = 8,
		.dev_fn = usv_op_get_features,
		.out = P_FEATURES, .errnos = E_GET,
	}, {
		.cmd = USV_VHOST_SET_FEATURES, .name = "SET_FEATURES",
		.path = USV_PATH_NET, .in_size = 8,
		.dev_fn = usv_op_set_features,
		.in = P_FEATURES, .errnos = ERRNOS(EFAULT, EOPNOTSUPP, ENOMEM),
	}, {
		.cmd = USV_VHOST_SET_OWNER, .name = "SET_OWNER",
		.path = USV_PATH_NET,
		.dev_fn = usv_op_set_owner,
		.errnos = ERRNOS(EBUSY, ENOMEM, EINTR),
	}, {
		.cmd = USV_VHOST_RESET_OWNER, .name = "RESET_OWNER",
		.path = USV_PATH_NET,
		.dev_fn = usv_op_reset_owner,
		.errnos = ERRNOS(EPERM, ENOMEM),
	}, {
		.cmd = USV_VHOST_SET_MEM_TABLE, .name = "SET_MEM_TABLE",
		.path = USV_PATH_DEV, .in_size = 8, .varlen = true,
		.dev_fn = usv_op_set_mem_table,
		.in = P_MEM, .errnos = ERRNOS(EPERM, EFAULT, EOPNOTSUPP, E2BIG, ENOMEM),
	}, {
		.cmd = USV_VHOST_SET_LOG_BASE, .name = "SET_LOG_BASE",
		.path = USV_PATH_DEV, .in_size = 8,
		.dev_fn = usv_op_set_log_base,
		.in = { FIELDS({ .name = "log_base", .off = 0, .kind = USV_FK_LOG_BASE,
				 .flags = USV_FF_BARE }) },
		.errnos = ERRNOS(EPERM, EFAULT),
	}, {
		.cmd = USV_VHOST_SET_LOG_FD, .name = "SET_LOG_FD",
		.path = USV_PATH_DEV, .in_size = 4,
		.dev_fn = usv_op_set_log_fd,
		.in = { FIELDS({ .name = "fd", .off = 0, .kind = USV_FK_FD }) },
		.errnos = ERRNOS(EPERM, EFAULT, EBADF, EINVAL),
	}, {
		.cmd = USV_VHOST_SET_VRING_NUM, .name = "SET_VRING_NUM",
		.path = USV_PATH_VRING, .in_size = ST,
		.vq_fn = usv_op_set_vring_num,
		.in = P_STATE, .errnos = E_VRING_STATE,
	}, {
		.cmd = USV_VHOST_SET_VRING_ADDR, .name = "SET_VRING_ADDR",
		.path = USV_PATH_VRING, .in_size = AD,
		.vq_fn = usv_op_set_vring_addr,
		.in = P_ADDR, .errnos = ERRNOS(EPERM, EFAULT, ENOBUFS, EOPNOTSUPP, EINVAL),
	}, {
		.cmd = USV_VHOST_SET_VRING_BASE, .name = "SET_VRING_BASE",
		.path = USV_PATH_VRING, .in_size = ST,
		.vq_fn = usv_op_set_vring_base,
		.in = P_BASE, .errnos = E_VRING_STATE,
	}, {
		.cmd = USV_VHOST_GET_VRING_BASE, .name = "GET_VRING_BASE",
		.path = USV_PATH_VRING, .in_size = 4, .out_size = ST,
		.vq_fn = usv_op_get_vring_base,
		.in = P_INDEX, .out = P_BASE, .errnos = E_VRING_GET,
	}, {
		/* No cross-endian support (CONFIG_VHOST_CROSS_ENDIAN_LEGACY=n): ENOTTY. */
		.cmd = USV_VHOST_SET_VRING_ENDIAN, .name = "SET_VRING_ENDIAN",
		.path = USV_PATH_VRING, .in_size = 4,
		.in = P_STATE,
	}, {
		.cmd = USV_VHOST_GET_VRING_ENDIAN, .name = "GET_VRING_ENDIAN",
		.path = USV_PATH_VRING, .in_size = 4,
		.in = P_INDEX, .out = P_STATE,
	}, {
		.cmd = USV_VHOST_SET_VRING_KICK, .name = "SET_VRING_KICK",
		.path = USV_PATH_VRING, .in_size = FL,
		.vq_fn = usv_op_set_vring_kick,
		.in = P_FILE, .errnos = E_VRING_FILE,
	}, {
		.cmd = USV_VHOST_SET_VRING_CALL, .name = "SET_VRING_CALL",
		.path = USV_PATH_VRING, .in_size = FL,
		.vq_fn = usv_op_set_vring_call,
		.in = P_FILE, .errnos = E_VRING_FILE,
	}, {
		.cmd = USV_VHOST_SET_VRING_ERR, .name = "SET_VRING_ERR",
		.path = USV_PATH_VRING, .in_size = FL,
		.vq_fn = usv_op_set_vring_err,
		.in = P_FILE, .errnos = E_VRING_FILE,
	}, {
		.cmd = USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, .name = "SET_VRING_BUSYLOOP_TIMEOUT",
		.path = USV_PATH_VRING, .in_size = ST,
		.vq_fn = usv_op_set_vring_busyloop,
		.in = P_STATE, .errnos = E_VRING_GET,
	}, {
		/* Declared _IOW, but writes the state back. */
		.cmd = USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, .name = "GET_VRING_BUSYLOOP_TIMEOUT",
		.path = USV_PATH_VRING, .in_size = 4, .out_size = ST,
		.vq_fn = usv_op_get_vring_busyloop,
		.in = P_INDEX, .out = P_STATE, .errnos = E_VRING_GET,
	}, {
		.cmd = USV_VHOST_SET_BACKEND_FEATURES, .name = "SET_BACKEND_FEATURES",
		.path = USV_PATH_NET, .in_size = 8,
		.dev_fn = usv_op_set_backend_features,
		.in = P_BACKEND_FEATURES, .errnos = E_SET_OTHER_FEATURES,
		.since = USV_KVER(4, 19),
	}, {
		.cmd = USV_VHOST_GET_BACKEND_FEATURES, .name = "GET_BACKEND_FEATURES",
		.path = USV_PATH_NET, .out_size = 8,
		.dev_fn = usv_op_get_backend_features,
		.out = P_BACKEND_FEATURES, .errnos = E_GET,
		.since = USV_KVER(4, 19),
	}, {
		.cmd = USV_VHOST_NET_SET_BACKEND, .name = "NET_SET_BACKEND",
		.path = USV_PATH_NET, .in_size = FL,
		.dev_fn = usv_op_net_set_backend,
		.in = P_FILE,
		.errnos = ERRNOS(EPERM, EFAULT, ENOBUFS, ENOTSOCK, ENOMEM, EINVAL),
	}, {
		.cmd = USV_VHOST_GET_FEATURES_ARRAY, .name = "GET_FEATURES_ARRAY",
		.path = USV_PATH_NET, .in_size = 8, .varlen = true,
		.dev_fn = usv_op_get_features_array,
		.in = P_COUNT, .out = P_GET_ARRAY, .errnos = E_SET_OTHER_FEATURES,
		.since = USV_KVER(6, 17),
	}, {
		.cmd = USV_VHOST_SET_FEATURES_ARRAY, .name = "SET_FEATURES_ARRAY",
		.path = USV_PATH_NET, .in_size = 8, .varlen = true,
		.dev_fn = usv_op_set_features_array,
		.in = P_SET_ARRAY, .errnos = E_SET_OTHER_FEATURES,
		.since = USV_KVER(6, 17),
	},
	/* Other vhost devices' ioctls: vhost-net sends them down the unknown path. */
	{
		.cmd = USV_VHOST_NEW_WORKER, .name = "NEW_WORKER",
		.path = USV_PATH_VRING, .in_size = 4, .in = P_INDEX,
	}, {
		.cmd = USV_VHOST_FREE_WORKER, .name = "FREE_WORKER",
		.path = USV_PATH_VRING, .in_size = 4, .in = P_INDEX,
	}, {
		/* struct vhost_vring_worker: index, worker_id (traced as num) */
		.cmd = USV_VHOST_ATTACH_VRING_WORKER, .name = "ATTACH_VRING_WORKER",
		.path = USV_PATH_VRING, .in_size = 4, .in = P_STATE,
	}, {
		.cmd = USV_VHOST_GET_VRING_WORKER, .name = "GET_VRING_WORKER",
		.path = USV_PATH_VRING, .in_size = 4, .in = P_INDEX,
	}, {
		.cmd = USV_VHOST_SET_FORK_FROM_OWNER, .name = "SET_FORK_FROM_OWNER",
		.path = USV_PATH_VRING, .in_size = 4, .in = P_INDEX,
	}, {
		.cmd = USV_VHOST_GET_FORK_FROM_OWNER, .name = "GET_FORK_FROM_OWNER",
		.path = USV_PATH_VRING, .in_size = 4, .in = P_INDEX,
	},
};

const struct usv_ioctl_desc *usv_ioctl_lookup(uint32_t cmd)
{
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].cmd == cmd)
			return &rows[i];
	return NULL;
}

const struct usv_ioctl_desc *usv_ioctl_lookup_name(const char *name)
{
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (!strcasecmp(rows[i].name, name))
			return &rows[i];
	return NULL;
}

const struct usv_ioctl_desc *usv_ioctl_rows(unsigned *count)
{
	*count = sizeof(rows) / sizeof(rows[0]);
	return rows;
}
