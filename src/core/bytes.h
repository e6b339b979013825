/* SPDX-License-Identifier: MIT */
/* Unaligned little-endian reads of captured ioctl payloads (x86: host order). */
#ifndef USV_CORE_BYTES_H
#define USV_CORE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint32_t usv_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t usv_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif
