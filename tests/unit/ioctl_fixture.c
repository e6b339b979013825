/* SPDX-License-Identifier: MIT */
/* Helpers shared by the ioctl tests (see ioctl_fixture.h). */
#include <stdint.h>

#include "ioctl_fixture.h"

int set_log_fd(struct env *e, int fd)
{
	int32_t v = fd;

	return env_ioctl(e, &e->owner, USV_VHOST_SET_LOG_FD, &v, sizeof(v));
}

struct usv_vhost_memory_region guest_region(struct env *e, unsigned i, uint64_t size)
{
	return (struct usv_vhost_memory_region){
		.guest_phys_addr = i * size,
		.memory_size = size,
		.userspace_addr = (uintptr_t)e->guest + i * size,
	};
}
