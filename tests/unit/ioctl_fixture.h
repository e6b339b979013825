/* SPDX-License-Identifier: MIT */
/*
 * What the ioctl tests (test_dispatch, test_owner, test_features,
 * test_mem_table, test_vring_ioctl, test_backend, test_datapath_ops) share.
 * Each drives every vhost-net ioctl of its subject through
 * usv_ioctl_dispatch(): success paths, every documented error, the kernel's
 * order of checks, and what the datapath is told. The caller is this process
 * (owner) or its parent (not the owner); its memory is a buffer at a fake
 * address (see unit.h).
 *
 * Cases that need a backend NET_SET_BACKEND accepts (an AF_PACKET raw
 * socket: CAP_NET_RAW; or /dev/net/tun) skip without one, saying why.
 */
#ifndef USV_TESTS_IOCTL_FIXTURE_H
#define USV_TESTS_IOCTL_FIXTURE_H

#include <stdint.h>

#include "core/vhost_ops.h"
#include "unit.h"

#define T USV_TASK_SIZE_MAX
/* The default profile's offer but ACCESS_PLATFORM (33, offered too: GET_FEATURES
 * answers OFFERED | 1 << 33): bits 15, 24, 26-29, 32 (what kernel vhost-net
 * offers besides 33) and 34 (RING_PACKED, beyond it). */
#define OFFERED 0x53d008000ULL
#define KERNEL_OFFERED 0x13d008000ULL /* the same without the packed ring */
#define MRG USV_BIT(USV_F_NET_MRG_RXBUF)
#define V1 USV_BIT(USV_F_VERSION_1)
#define NET_HDR USV_BIT(USV_F_NET_VIRTIO_NET_HDR)
#define LOG_ALL USV_BIT(USV_F_LOG_ALL)
/* The last 4 bytes of the caller's buffer: an index fits, a struct does not. */
#define ARG_LAST4 ufake_addr(UFAKE_SIZE - 4)
#define ERETRY (-USV_ERETRY)

/* SET_LOG_FD from the owner. */
int set_log_fd(struct env *e, int fd);

/* Region i of a table of regions of `size` bytes laid end to end over the
 * guest buffer, at guest-physical address i * size. */
struct usv_vhost_memory_region guest_region(struct env *e, unsigned i, uint64_t size);

#endif
