/* SPDX-License-Identifier: MIT */
#include "core/request.h"

#include <errno.h>
#include <string.h>

void usv_req_init(struct usv_req *req, uint32_t cmd, uint64_t arg,
		  const struct usv_caller *caller, const struct usv_uaccess *ua,
		  void *ua_ctx)
{
	memset(req, 0, sizeof(*req));
	req->cmd = cmd;
	req->arg = arg;
	req->caller = *caller;
	req->ua = ua;
	req->ua_ctx = ua_ctx;
}

/* Keep what extends the contiguous run of bytes starting at arg. */
static void capture(struct usv_capture *cap, uint64_t arg, uint64_t addr,
		    const void *buf, size_t len)
{
	uint64_t off = addr - arg;

	if (addr < arg || off > cap->len || off >= USV_REQ_CAPTURE)
		return;
	if (len > USV_REQ_CAPTURE - off)
		len = USV_REQ_CAPTURE - off;
	memcpy(cap->buf + off, buf, len);
	if (off + len > cap->len)
		cap->len = off + len;
}

int usv_req_read(struct usv_req *req, uint64_t addr, void *buf, size_t len)
{
	int ret;

	if (addr + len < addr)
		return -EFAULT;
	ret = req->ua->read(req->ua_ctx, addr, buf, len);
	if (ret == 0)
		capture(&req->in, req->arg, addr, buf, len);
	return ret;
}

int usv_req_write(struct usv_req *req, uint64_t addr, const void *buf,
		  size_t len)
{
	int ret;

	if (addr + len < addr)
		return -EFAULT;
	ret = req->ua->write(req->ua_ctx, addr, buf, len);
	if (ret == 0)
		capture(&req->out, req->arg, addr, buf, len);
	return ret;
}

int usv_req_clear(struct usv_req *req, uint64_t addr, uint64_t len)
{
	static const uint8_t zeros[4096];

	if (addr + len < addr)
		return -EFAULT;
	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int ret = usv_req_write(req, addr, zeros, n);

		if (ret)
			return ret;
		addr += n;
		len -= n;
	}
	return 0;
}
