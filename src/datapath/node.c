/* SPDX-License-Identifier: MIT */
/*
 * A NUMA node's memory and CPUs for a device's state and worker, without
 * libnuma's allocating calls: libnuma exits the process when one of its
 * bitmask allocations fails (numa_alloc_onnode, numa_allocate_cpumask,
 * numa_node_to_cpus all make one), and a request that needs memory must
 * answer ENOMEM, not end every VM's network. Only system calls here.
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "datapath/dp_internal.h"

/* Nodes a policy mask here can name. */
#define NODE_MAX 1024
#define LONG_BITS (8 * sizeof(unsigned long))

void *usv_dp_node_zalloc(size_t size, int node)
{
	unsigned long mask[NODE_MAX / LONG_BITS] = { 0 };
	void *p;

	if (node < 0 || node >= NODE_MAX)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* A preference, set before the first touch: a node short of memory
	 * lends another's rather than failing the fault. If it cannot be set
	 * the memory is still good, only placed anywhere. */
	mask[node / LONG_BITS] = 1ul << (node % LONG_BITS);
	/* The kernel reads maxnode - 1 bits. */
	mbind(p, size, MPOL_PREFERRED, mask, NODE_MAX + 1, 0);
	return p;
}

void usv_dp_node_free(void *p, size_t size)
{
	munmap(p, size);
}

/* "0-3,8,10-11\n" into set (CPUs past CPU_SETSIZE left out). */
static int parse_cpulist(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s && *s != '\n') {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return -EINVAL;
		}
		for (unsigned long c = a; c <= b && c < CPU_SETSIZE; c++)
			CPU_SET(c, set);
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -EINVAL;
	}
	return CPU_COUNT(set) ? 0 : -ENOENT;
}

int usv_dp_node_cpus(int node, cpu_set_t *set)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	ret = n < 0 ? -errno : n == sizeof(buf) - 1 ? -E2BIG : 0;
	close(fd);
	if (ret)
		return ret;
	buf[n] = '\0';
	return parse_cpulist(buf, set);
}
