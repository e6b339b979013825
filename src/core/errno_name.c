/* SPDX-License-Identifier: MIT */
#include "core/errno_name.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Names beyond any errno Linux defines are not looked for. */
#define ERRNO_LIMIT 4096

const char *usv_errno_name(int err)
{
	if (err < 0)
		err = -err;
	return err > 0 ? strerrorname_np(err) : NULL;
}

int usv_errno_from_name(const char *name)
{
	for (int e = 1; e < ERRNO_LIMIT; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcasecmp(n, name))
			return e;
	}
	return 0;
}

const char *usv_errname(int err, char *buf, unsigned len)
{
	const char *name = usv_errno_name(err);

	if (name)
		return name;
	snprintf(buf, len, "E%d", err < 0 ? -err : err);
	return buf;
}
