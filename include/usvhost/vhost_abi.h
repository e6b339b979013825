/* SPDX-License-Identifier: MIT */
/*
 * The vhost-net character device ABI, as the kernel defines it in
 * include/uapi/linux/vhost.h and vhost_types.h.
 *
 * Vendored here (written from the published ABI, not copied) because
 * Debian bookworm's linux-libc-dev (6.1) lacks the newer ioctls, and so
 * that the project builds the same on any distribution. Every name is
 * prefixed USV_ to avoid clashing with <linux/vhost.h> if a user includes
 * both.
 */
#ifndef USVHOST_VHOST_ABI_H
#define USVHOST_VHOST_ABI_H

#include <stdint.h>
#include <linux/ioctl.h>

#define USV_VHOST_VIRTIO 0xAF

/* Structures passed through the ioctls (layouts fixed by the kernel ABI). */
struct usv_vhost_vring_state {
	uint32_t index;
	uint32_t num;
};

struct usv_vhost_vring_file {
	uint32_t index;
	int32_t fd; /* -1 unbinds */
};

struct usv_vhost_vring_addr {
	uint32_t index;
	uint32_t flags; /* only 1 << USV_VHOST_VRING_F_LOG is defined */
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct usv_vhost_memory_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t flags_padding;
};

struct usv_vhost_memory {
	uint32_t nregions;
	uint32_t padding;
	struct usv_vhost_memory_region regions[];
};

#define USV_VHOST_VRING_F_LOG 0
#define USV_VHOST_FILE_UNBIND (-1)

/* Ioctl numbers. */
#define USV_VHOST_GET_FEATURES _IOR(USV_VHOST_VIRTIO, 0x00, uint64_t)
#define USV_VHOST_SET_FEATURES _IOW(USV_VHOST_VIRTIO, 0x00, uint64_t)
#define USV_VHOST_SET_OWNER _IO(USV_VHOST_VIRTIO, 0x01)
#define USV_VHOST_RESET_OWNER _IO(USV_VHOST_VIRTIO, 0x02)
#define USV_VHOST_SET_MEM_TABLE _IOW(USV_VHOST_VIRTIO, 0x03, struct usv_vhost_memory)
#define USV_VHOST_SET_LOG_BASE _IOW(USV_VHOST_VIRTIO, 0x04, uint64_t)
#define USV_VHOST_SET_LOG_FD _IOW(USV_VHOST_VIRTIO, 0x07, int)
#define USV_VHOST_SET_VRING_NUM _IOW(USV_VHOST_VIRTIO, 0x10, struct usv_vhost_vring_state)
#define USV_VHOST_SET_VRING_ADDR _IOW(USV_VHOST_VIRTIO, 0x11, struct usv_vhost_vring_addr)
#define USV_VHOST_SET_VRING_BASE _IOW(USV_VHOST_VIRTIO, 0x12, struct usv_vhost_vring_state)
#define USV_VHOST_GET_VRING_BASE _IOWR(USV_VHOST_VIRTIO, 0x12, struct usv_vhost_vring_state)
#define USV_VHOST_SET_VRING_ENDIAN _IOW(USV_VHOST_VIRTIO, 0x13, struct usv_vhost_vring_state)
/* Declared _IOW by the kernel although it writes the state back. */
#define USV_VHOST_GET_VRING_ENDIAN _IOW(USV_VHOST_VIRTIO, 0x14, struct usv_vhost_vring_state)
#define USV_VHOST_SET_VRING_KICK _IOW(USV_VHOST_VIRTIO, 0x20, struct usv_vhost_vring_file)
#define USV_VHOST_SET_VRING_CALL _IOW(USV_VHOST_VIRTIO, 0x21, struct usv_vhost_vring_file)
#define USV_VHOST_SET_VRING_ERR _IOW(USV_VHOST_VIRTIO, 0x22, struct usv_vhost_vring_file)
#define USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT _IOW(USV_VHOST_VIRTIO, 0x23, struct usv_vhost_vring_state)
/* Declared _IOW by the kernel although it writes the state back. */
#define USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT _IOW(USV_VHOST_VIRTIO, 0x24, struct usv_vhost_vring_state)
#define USV_VHOST_SET_BACKEND_FEATURES _IOW(USV_VHOST_VIRTIO, 0x25, uint64_t)
#define USV_VHOST_GET_BACKEND_FEATURES _IOR(USV_VHOST_VIRTIO, 0x26, uint64_t)
#define USV_VHOST_NET_SET_BACKEND _IOW(USV_VHOST_VIRTIO, 0x30, struct usv_vhost_vring_file)
/* Linux 6.17: {u64 count; u64 features[count]}, variable length. */
#define USV_VHOST_GET_FEATURES_ARRAY _IOR(USV_VHOST_VIRTIO, 0x83, uint64_t)
#define USV_VHOST_SET_FEATURES_ARRAY _IOW(USV_VHOST_VIRTIO, 0x83, uint64_t)

/* Ioctls that exist for other vhost devices; vhost-net sends them down the
 * unknown path. Listed so traces can name them. */
#define USV_VHOST_NEW_WORKER _IOR(USV_VHOST_VIRTIO, 0x08, uint32_t)
#define USV_VHOST_FREE_WORKER _IOW(USV_VHOST_VIRTIO, 0x09, uint32_t)
#define USV_VHOST_ATTACH_VRING_WORKER _IOW(USV_VHOST_VIRTIO, 0x15, struct usv_vhost_vring_state)
#define USV_VHOST_GET_VRING_WORKER _IOWR(USV_VHOST_VIRTIO, 0x16, struct usv_vhost_vring_state)
#define USV_VHOST_SET_FORK_FROM_OWNER _IOW(USV_VHOST_VIRTIO, 0x84, uint8_t)
#define USV_VHOST_GET_FORK_FROM_OWNER _IOR(USV_VHOST_VIRTIO, 0x85, uint8_t)

/* Virtqueue indexes of a vhost-net device. */
#define USV_VQ_RX 0
#define USV_VQ_TX 1
#define USV_NET_NVQS 2

/* Feature bits (virtio and vhost). */
#define USV_F_NET_CSUM 0
#define USV_F_NET_GUEST_CSUM 1
#define USV_F_NET_MRG_RXBUF 15
#define USV_F_NOTIFY_ON_EMPTY 24
#define USV_F_LOG_ALL 26 /* VHOST_F_LOG_ALL */
#define USV_F_ANY_LAYOUT 27
#define USV_F_NET_VIRTIO_NET_HDR 27 /* VHOST_NET_F_VIRTIO_NET_HDR: same bit */
#define USV_F_RING_INDIRECT_DESC 28
#define USV_F_RING_EVENT_IDX 29
#define USV_F_VERSION_1 32
#define USV_F_ACCESS_PLATFORM 33
#define USV_F_RING_PACKED 34
#define USV_F_IN_ORDER 35
#define USV_F_RING_RESET 40

#define USV_BIT(b) (1ULL << (b))

/* Backend feature bit numbers (the kernel defines them as bit numbers,
 * so vhost-net's offered mask is 1 << USV_BACKEND_F_IOTLB_MSG_V2 = 0x2). */
#define USV_BACKEND_F_IOTLB_MSG_V2 1
#define USV_BACKEND_F_IOTLB_BATCH 2

/* Kernel limits that shape the answers. */
#define USV_MAX_MEM_REGIONS 64 /* vhost module parameter max_mem_regions */
#define USV_MAX_VRING_NUM 0xffff /* and a power of two: 32768 in effect */
#define USV_FEATURES_DWORDS 2 /* VIRTIO_FEATURES_DWORDS in Linux 6.17 */
#define USV_VHOST_PAGE_SIZE 0x1000
/* x86-64 user address space top with 4-level paging: access_ok()'s bound. */
#define USV_TASK_SIZE_MAX 0x7ffffffff000ULL

/* Split ring layout sizes. */
#define USV_VRING_DESC_SIZE 16
#define USV_VRING_AVAIL_ALIGN 2
#define USV_VRING_USED_ALIGN 4
#define USV_VRING_PACKED_DESC_ALIGN 16
#define USV_VRING_PACKED_EVENT_ALIGN 4

#endif
