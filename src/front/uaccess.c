/* SPDX-License-Identifier: MIT */
#include "front/uaccess.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/caller.h"

static int restricted_memfd(struct usv_ua_restricted *ua)
{
	pid_t tgid;

	if (ua->memfd >= 0)
		return ua->memfd;
	if (usv_caller_tgid(ua->tid, 0, &tgid))
		return -EFAULT;
	ua->memfd = usv_procmem_open(tgid);
	return ua->memfd >= 0 ? ua->memfd : -EFAULT;
}

static bool inside(uint64_t base, size_t size, uint64_t addr, size_t len)
{
	return addr >= base && addr - base <= size && len <= size - (addr - base);
}

static int restricted_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct usv_ua_restricted *ua = ctx;
	int fd;

	if (inside(ua->arg, ua->in_len, addr, len)) {
		memcpy(buf, ua->in + (addr - ua->arg), len);
		return 0;
	}
	fd = restricted_memfd(ua);
	return fd < 0 ? fd : usv_procmem_read(fd, addr, buf, len);
}

static int restricted_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	struct usv_ua_restricted *ua = ctx;
	size_t off = addr - ua->arg;
	int fd;

	if (inside(ua->arg, ua->out_cap, addr, len)) {
		/* The kernel copies out our reply from arg on: keep it whole. */
		if (off > ua->out_len) {
			int ret = restricted_read(ctx, ua->arg + ua->out_len,
						  ua->out + ua->out_len, off - ua->out_len);
			if (ret)
				return ret;
		}
		memcpy(ua->out + off, buf, len);
		if (off + len > ua->out_len)
			ua->out_len = off + len;
		return 0;
	}
	fd = restricted_memfd(ua);
	return fd < 0 ? fd : usv_procmem_write(fd, addr, buf, len);
}

const struct usv_uaccess usv_ua_restricted_ops = {
	.read = restricted_read,
	.write = restricted_write,
};

void usv_ua_restricted_init(struct usv_ua_restricted *ua, pid_t tid, uint64_t arg,
			    const void *in, size_t in_len, void *out, size_t out_cap)
{
	memset(ua, 0, sizeof(*ua));
	ua->arg = arg;
	ua->in = in;
	ua->in_len = in_len;
	ua->out = out;
	ua->out_cap = out_cap;
	ua->tid = tid;
	ua->memfd = -1;
}

void usv_ua_restricted_done(struct usv_ua_restricted *ua)
{
	if (ua->memfd >= 0)
		close(ua->memfd);
	ua->memfd = -1;
}

/* Finds the range holding [addr, addr+len), or declares a new one. */
static int retry_range(struct usv_ua_range *r, unsigned *n, size_t *bytes,
		       uint64_t addr, size_t len, struct usv_ua_range **out)
{
	for (unsigned i = 0; i < *n; i++) {
		if (inside(r[i].addr, r[i].len, addr, len)) {
			*out = &r[i];
			return 0;
		}
	}
	if (*n == USV_UA_MAX_IOV || len > USV_UA_MAX_BYTES - *bytes)
		return -EFAULT;
	r[*n] = (struct usv_ua_range){ .addr = addr, .len = len, .off = *bytes };
	*bytes += len;
	*out = &r[(*n)++];
	return 0;
}

static int retry_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct usv_ua_retry *ua = ctx;
	struct usv_ua_range *r;
	int ret;

	if (!len)
		return 0;
	ret = retry_range(ua->rd, &ua->nrd, &ua->rd_bytes, addr, len, &r);
	if (ret)
		return ret;
	if (r->off + r->len > ua->in_len)
		return -USV_ERETRY;
	memcpy(buf, ua->in + r->off + (addr - r->addr), len);
	return 0;
}

static int retry_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	struct usv_ua_retry *ua = ctx;
	struct usv_ua_range *r;
	int ret;

	if (!len)
		return 0;
	ret = retry_range(ua->wr, &ua->nwr, &ua->wr_bytes, addr, len, &r);
	if (ret)
		return ret;
	if (r->off + r->len > ua->out_cap)
		return -USV_ERETRY;
	memcpy(ua->out + r->off + (addr - r->addr), buf, len);
	return 0;
}

const struct usv_uaccess usv_ua_retry_ops = {
	.read = retry_read,
	.write = retry_write,
};

void usv_ua_retry_init(struct usv_ua_retry *ua, uint64_t arg, size_t in_size,
		       size_t out_size, const void *in, size_t in_len, size_t out_cap)
{
	struct usv_ua_range *r;

	ua->in = in;
	ua->in_len = in_len;
	ua->out_cap = out_cap < USV_UA_MAX_BYTES ? out_cap : USV_UA_MAX_BYTES;
	ua->nrd = ua->nwr = 0;
	ua->rd_bytes = ua->wr_bytes = 0;
	memset(ua->out, 0, ua->out_cap);
	if (in_size)
		retry_range(ua->rd, &ua->nrd, &ua->rd_bytes, arg, in_size, &r);
	if (out_size)
		retry_range(ua->wr, &ua->nwr, &ua->wr_bytes, arg, out_size, &r);
}

unsigned usv_ua_retry_iov(const struct usv_ua_range *r, unsigned n, struct iovec *iov)
{
	for (unsigned i = 0; i < n; i++)
		iov[i] = (struct iovec){ .iov_base = (void *)(uintptr_t)r[i].addr,
					 .iov_len = r[i].len };
	return n;
}

size_t usv_ua_retry_out_len(const struct usv_ua_retry *ua)
{
	return ua->wr_bytes < ua->out_cap ? ua->wr_bytes : ua->out_cap;
}
