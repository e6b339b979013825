/* SPDX-License-Identifier: MIT */
/*
 * Serving a request: the table (core/ioctl_table.h) says what each ioctl is;
 * dispatch runs it as the kernel's vhost_net_ioctl() would.
 */
#ifndef USV_CORE_DISPATCH_H
#define USV_CORE_DISPATCH_H

#include "core/device.h"
#include "core/request.h"

/*
 * Serves one request on dev with the device lock held: 0 or -errno as the
 * kernel would answer, or -USV_ERETRY (the transport must fetch memory and
 * call again). A caller.tgid of 0 is resolved from caller.tid first.
 * Logs the answer at debug level (not for -USV_ERETRY).
 */
int usv_ioctl_dispatch(struct usv_dev *dev, struct usv_req *req);

#endif
