/* SPDX-License-Identifier: MIT */
#include "core/ioctl_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/vhost_ops.h"

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

static void dec_u64(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 8)
		app(buf, n, "0x%" PRIx64, usv_get64(p));
}

static void dec_int(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 4)
		app(buf, n, "fd=%d", (int32_t)usv_get32(p));
}

static void dec_index(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 4)
		app(buf, n, "index=%u", usv_get32(p));
}

static void dec_state(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 8)
		app(buf, n, "index=%u num=%u", usv_get32(p), usv_get32(p + 4));
	else
		dec_index(p, len, buf, n);
}

static void dec_file(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 8)
		app(buf, n, "index=%u fd=%d", usv_get32(p), (int32_t)usv_get32(p + 4));
	else
		dec_index(p, len, buf, n);
}

static void dec_addr(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len < sizeof(struct usv_vhost_vring_addr)) {
		dec_index(p, len, buf, n);
		return;
	}
	app(buf, n, "index=%u flags=0x%x desc=0x%" PRIx64 " used=0x%" PRIx64
		    " avail=0x%" PRIx64 " log=0x%" PRIx64,
	    usv_get32(p), usv_get32(p + 4), usv_get64(p + 8), usv_get64(p + 16), usv_get64(p + 24),
	    usv_get64(p + 32));
}

static void dec_mem(const uint8_t *p, size_t len, char *buf, size_t n)
{
	uint32_t nr;

	if (len < 8)
		return;
	nr = usv_get32(p);
	app(buf, n, "nregions=%u", nr);
	if (usv_get32(p + 4))
		app(buf, n, " padding=%u", usv_get32(p + 4));
	for (uint32_t i = 0; i < nr && 8 + (i + 1) * 32 <= len; i++) {
		const uint8_t *r = p + 8 + i * 32;

		app(buf, n, " {gpa=0x%" PRIx64 " size=0x%" PRIx64 " uaddr=0x%" PRIx64 "}",
		    usv_get64(r), usv_get64(r + 8), usv_get64(r + 16));
	}
}

static void dec_array(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len < 8)
		return;
	app(buf, n, "count=%" PRIu64, usv_get64(p));
	for (size_t off = 8; off + 8 <= len && off <= 8 * USV_FEATURES_DWORDS; off += 8)
		app(buf, n, "%s0x%" PRIx64, off == 8 ? " [" : ",", usv_get64(p + off));
	if (len >= 16)
		app(buf, n, "]");
}

#define ROW(c, nm, pth, in, out, var, dfn, vfn, din, dout)                    \
	{ .cmd = (c), .name = (nm), .path = (pth), .in_size = (in),            \
	  .out_size = (out), .varlen = (var), .dev_fn = (dfn), .vq_fn = (vfn), \
	  .decode_in = (din), .decode_out = (dout) }

#define ST sizeof(struct usv_vhost_vring_state)
#define FL sizeof(struct usv_vhost_vring_file)
#define AD sizeof(struct usv_vhost_vring_addr)

static const struct usv_ioctl_desc rows[] = {
	ROW(USV_VHOST_GET_FEATURES, "GET_FEATURES", USV_PATH_NET, 0, 8, false,
	    usv_op_get_features, NULL, NULL, dec_u64),
	ROW(USV_VHOST_SET_FEATURES, "SET_FEATURES", USV_PATH_NET, 8, 0, false,
	    usv_op_set_features, NULL, dec_u64, NULL),
	ROW(USV_VHOST_SET_OWNER, "SET_OWNER", USV_PATH_NET, 0, 0, false,
	    usv_op_set_owner, NULL, NULL, NULL),
	ROW(USV_VHOST_RESET_OWNER, "RESET_OWNER", USV_PATH_NET, 0, 0, false,
	    usv_op_reset_owner, NULL, NULL, NULL),
	ROW(USV_VHOST_SET_MEM_TABLE, "SET_MEM_TABLE", USV_PATH_DEV, 8, 0, true,
	    usv_op_set_mem_table, NULL, dec_mem, NULL),
	ROW(USV_VHOST_SET_LOG_BASE, "SET_LOG_BASE", USV_PATH_DEV, 8, 0, false,
	    usv_op_set_log_base, NULL, dec_u64, NULL),
	ROW(USV_VHOST_SET_LOG_FD, "SET_LOG_FD", USV_PATH_DEV, 4, 0, false,
	    usv_op_set_log_fd, NULL, dec_int, NULL),
	ROW(USV_VHOST_SET_VRING_NUM, "SET_VRING_NUM", USV_PATH_VRING, ST, 0, false,
	    NULL, usv_op_set_vring_num, dec_state, NULL),
	ROW(USV_VHOST_SET_VRING_ADDR, "SET_VRING_ADDR", USV_PATH_VRING, AD, 0, false,
	    NULL, usv_op_set_vring_addr, dec_addr, NULL),
	ROW(USV_VHOST_SET_VRING_BASE, "SET_VRING_BASE", USV_PATH_VRING, ST, 0, false,
	    NULL, usv_op_set_vring_base, dec_state, NULL),
	ROW(USV_VHOST_GET_VRING_BASE, "GET_VRING_BASE", USV_PATH_VRING, 4, ST, false,
	    NULL, usv_op_get_vring_base, dec_index, dec_state),
	/* No cross-endian support (CONFIG_VHOST_CROSS_ENDIAN_LEGACY=n): ENOTTY. */
	ROW(USV_VHOST_SET_VRING_ENDIAN, "SET_VRING_ENDIAN", USV_PATH_VRING, 4, 0, false,
	    NULL, NULL, dec_state, NULL),
	ROW(USV_VHOST_GET_VRING_ENDIAN, "GET_VRING_ENDIAN", USV_PATH_VRING, 4, 0, false,
	    NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_SET_VRING_KICK, "SET_VRING_KICK", USV_PATH_VRING, FL, 0, false,
	    NULL, usv_op_set_vring_kick, dec_file, NULL),
	ROW(USV_VHOST_SET_VRING_CALL, "SET_VRING_CALL", USV_PATH_VRING, FL, 0, false,
	    NULL, usv_op_set_vring_call, dec_file, NULL),
	ROW(USV_VHOST_SET_VRING_ERR, "SET_VRING_ERR", USV_PATH_VRING, FL, 0, false,
	    NULL, usv_op_set_vring_err, dec_file, NULL),
	ROW(USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, "SET_VRING_BUSYLOOP_TIMEOUT",
	    USV_PATH_VRING, ST, 0, false, NULL, usv_op_set_vring_busyloop, dec_state, NULL),
	/* Declared _IOW, but writes the state back. */
	ROW(USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, "GET_VRING_BUSYLOOP_TIMEOUT",
	    USV_PATH_VRING, 4, ST, false, NULL, usv_op_get_vring_busyloop, dec_index,
	    dec_state),
	ROW(USV_VHOST_SET_BACKEND_FEATURES, "SET_BACKEND_FEATURES", USV_PATH_NET, 8, 0,
	    false, usv_op_set_backend_features, NULL, dec_u64, NULL),
	ROW(USV_VHOST_GET_BACKEND_FEATURES, "GET_BACKEND_FEATURES", USV_PATH_NET, 0, 8,
	    false, usv_op_get_backend_features, NULL, NULL, dec_u64),
	ROW(USV_VHOST_NET_SET_BACKEND, "NET_SET_BACKEND", USV_PATH_NET, FL, 0, false,
	    usv_op_net_set_backend, NULL, dec_file, NULL),
	ROW(USV_VHOST_GET_FEATURES_ARRAY, "GET_FEATURES_ARRAY", USV_PATH_NET, 8, 0, true,
	    usv_op_get_features_array, NULL, dec_array, dec_array),
	ROW(USV_VHOST_SET_FEATURES_ARRAY, "SET_FEATURES_ARRAY", USV_PATH_NET, 8, 0, true,
	    usv_op_set_features_array, NULL, dec_array, NULL),
	/* Other vhost devices' ioctls: vhost-net sends them down the unknown path. */
	ROW(USV_VHOST_NEW_WORKER, "NEW_WORKER", USV_PATH_VRING, 4, 0, false, NULL, NULL,
	    dec_index, NULL),
	ROW(USV_VHOST_FREE_WORKER, "FREE_WORKER", USV_PATH_VRING, 4, 0, false, NULL, NULL,
	    dec_index, NULL),
	ROW(USV_VHOST_ATTACH_VRING_WORKER, "ATTACH_VRING_WORKER", USV_PATH_VRING, 4, 0,
	    false, NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_GET_VRING_WORKER, "GET_VRING_WORKER", USV_PATH_VRING, 4, 0, false,
	    NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_SET_FORK_FROM_OWNER, "SET_FORK_FROM_OWNER", USV_PATH_VRING, 4, 0,
	    false, NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_GET_FORK_FROM_OWNER, "GET_FORK_FROM_OWNER", USV_PATH_VRING, 4, 0,
	    false, NULL, NULL, dec_index, NULL),
};

const struct usv_ioctl_desc *usv_ioctl_lookup(uint32_t cmd)
{
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].cmd == cmd)
			return &rows[i];
	return NULL;
}

const struct usv_ioctl_desc *usv_ioctl_rows(unsigned *count)
{
	*count = sizeof(rows) / sizeof(rows[0]);
	return rows;
}

void usv_ioctl_describe(const struct usv_req *req, char *buf, size_t n)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(req->cmd);

	buf[0] = '\0';
	if (d)
		app(buf, n, "%s", d->name);
	else
		app(buf, n, "0x%08x", req->cmd);
	if (d && d->decode_in && req->in.len) {
		app(buf, n, " ");
		d->decode_in(req->in.buf, req->in.len, buf, n);
	} else if (!d && req->in.len >= 4) {
		app(buf, n, " ");
		dec_index(req->in.buf, req->in.len, buf, n);
	}
}
