/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets: reading an input as a stream of
 * little-endian fields. Past the end every read gives zeros and marks the
 * stream empty, so a target never reads outside the input and a short input
 * is simply a short sequence.
 */
#ifndef USV_TESTS_FUZZ_H
#define USV_TESTS_FUZZ_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usvhost/dp_seam.h"

struct fin {
	const uint8_t *p;
	size_t left;
};

static inline bool fin_empty(const struct fin *in)
{
	return in->left == 0;
}

/* Copies up to n bytes into buf, zero-filling what the input lacks;
 * returns how many came from the input. */
static inline size_t fin_bytes(struct fin *in, void *buf, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	if (k)
		memcpy(buf, in->p, k);
	if (k < n)
		memset((uint8_t *)buf + k, 0, n - k);
	in->p += k;
	in->left -= k;
	return k;
}

static inline uint8_t fin_u8(struct fin *in)
{
	uint8_t v;

	fin_bytes(in, &v, sizeof(v));
	return v;
}

static inline uint16_t fin_u16(struct fin *in)
{
	uint8_t b[2];

	fin_bytes(in, b, sizeof(b));
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fin_u32(struct fin *in)
{
	uint8_t b[4];

	fin_bytes(in, b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t fin_u64(struct fin *in)
{
	uint64_t lo = fin_u32(in);

	return lo | (uint64_t)fin_u32(in) << 32;
}

/* A broken invariant that is not a memory error: report it and abort, which
 * libFuzzer records as a crash with the input. */
#define FUZZ_ASSERT(cond, ...)                                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz invariant failed: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, "\n");                                 \
			abort();                                               \
		}                                                              \
	} while (0)

/* Descriptors this process holds (leak checks between runs). */
static inline int fuzz_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

/* A datapath's stop, sync and update that do nothing (the targets that
 * run the core without a datapath). */
static inline void fuzz_dp_stop(void *ctx, struct usv_dev *dev, unsigned idx,
				struct usv_ring_base *base)
{
	(void)ctx;
	(void)dev;
	(void)idx;
	(void)base;
}

static inline void fuzz_dp_update(void *ctx, struct usv_dev *dev, unsigned what,
				  const struct usv_ring_config *cfg)
{
	(void)ctx;
	(void)dev;
	(void)what;
	(void)cfg;
}

/* Packed ring positions as QEMU encodes them (SET/GET_VRING_BASE): the
 * slot in bits 0-14, the wrap counter in bit 15. What the walker must do,
 * computed on the fuzzers' side. */
#define FUZZ_PACKED_WRAP 0x8000u

/* pos moved n slots forward on a ring of num: the counter flips at the end. */
static inline uint16_t fuzz_packed_advance(uint16_t pos, uint32_t n, uint32_t num)
{
	uint32_t s = (pos & (FUZZ_PACKED_WRAP - 1)) + n;
	uint16_t w = pos & FUZZ_PACKED_WRAP;

	while (s >= num) {
		s -= num;
		w ^= FUZZ_PACKED_WRAP;
	}
	return (uint16_t)(s | w);
}

/* pos moved n slots back (slot below num, n at most num). */
static inline uint16_t fuzz_packed_retreat(uint16_t pos, uint32_t n, uint32_t num)
{
	uint32_t s = pos & (FUZZ_PACKED_WRAP - 1);
	uint16_t w = pos & FUZZ_PACKED_WRAP;

	if (s < n) {
		s += num;
		w ^= FUZZ_PACKED_WRAP;
	}
	return (uint16_t)((s - n) | w);
}

/* Slots from one position to another on the circle of 2 * num. */
static inline uint32_t fuzz_packed_dist(uint16_t from, uint16_t to, uint32_t num)
{
	uint32_t m = 2 * num;
	uint32_t a = ((from & (FUZZ_PACKED_WRAP - 1)) + (from & FUZZ_PACKED_WRAP ? num : 0)) % m;
	uint32_t b = ((to & (FUZZ_PACKED_WRAP - 1)) + (to & FUZZ_PACKED_WRAP ? num : 0)) % m;

	return (b + m - a) % m;
}

#endif
