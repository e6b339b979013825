/* SPDX-License-Identifier: MIT */
#include "front/front.h"

#include <errno.h>

#include "core/ioctl_table.h"
#include "core/log.h"
#include "core/observer.h"

int usv_front_open(struct usv_devlist *devs, pid_t tid, unsigned *handle)
{
	int ret = usv_devlist_add(devs, handle);

	if (ret)
		usv_err("open by thread %d refused: %s", tid, ret == -ENOMEM ?
			"out of memory" : "too many devices");
	else {
		struct usv_obs_event ev = { .kind = USV_OBS_OPEN, .handle = *handle,
					    .tid = tid, .open_count = usv_devlist_count(devs) };

		usv_info("dev %u: open by thread %d (%u open)", *handle, tid,
			 ev.open_count);
		usv_devlist_observe(devs, &ev);
	}
	return ret;
}

void usv_front_release(struct usv_devlist *devs, unsigned handle)
{
	if (usv_devlist_remove(devs, handle))
		usv_err("release of unknown device %u", handle);
	else
		usv_info("dev %u: release (%u open)", handle, usv_devlist_count(devs));
}

int usv_front_ioctl(struct usv_devlist *devs, unsigned handle, pid_t tid,
		    uint32_t cmd, uint64_t arg, const struct usv_uaccess *ua,
		    void *ua_ctx)
{
	struct usv_dev *dev = usv_devlist_get(devs, handle);
	struct usv_caller caller = { .tid = tid };
	struct usv_req req;

	if (!dev)
		return -EBADF;
	usv_req_init(&req, cmd, arg, &caller, ua, ua_ctx);
	return usv_ioctl_dispatch(dev, &req);
}
