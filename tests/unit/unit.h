/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the core's unit tests: a caller whose memory is a buffer
 * served at a fake address, a datapath that records what the core tells it,
 * and one device on a device list, owned (when a test asks) by this very
 * process, so that fds passed in ioctls are this process' own fds.
 */
#ifndef USV_TESTS_UNIT_H
#define USV_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/devlist.h"
#include "core/dispatch.h"
#include "core/ioctl_table.h"
#include "core/profile.h"
#include "core/request.h"
#include "usvhost/dp_seam.h"
#include "usvhost/vhost_abi.h"

/* ---- the caller's memory ------------------------------------------------ */

/* The buffer answers at this (fake) address; anything else is EFAULT. */
#define UFAKE_BASE 0x10000000ULL
#define UFAKE_SIZE 16384
/* An address no access is ever served at. */
#define UFAKE_BAD 0xdead0000ULL

struct ufake {
	uint8_t buf[UFAKE_SIZE];
	/* Bytes from UFAKE_BASE served now; past them, inside the buffer,
	 * accesses answer -USV_ERETRY as a CUSE front's first round does. */
	size_t reachable;
};

extern const struct usv_uaccess ufake_ops;
/* The fake address of buf[off]. */
static inline uint64_t ufake_addr(size_t off)
{
	return UFAKE_BASE + off;
}

/* ---- a datapath that records ------------------------------------------- */

enum dp_kind { DP_START = 1, DP_STOP, DP_UPDATE, DP_SYNC, DP_FREE };

struct dp_event {
	enum dp_kind kind;
	unsigned idx;
	unsigned what;      /* DP_UPDATE: the usv_ring_change mask */
	bool watch_open;    /* was fake_dp.watch_fd still open at the call */
	int backend_fd, kick_fd, call_fd, err_fd, log_fd; /* as the call saw them */
	uint32_t mem_nregions; /* dev->mem->nregions, UINT32_MAX without one */
	uint16_t last_used_idx;
	uint16_t last_avail_idx;
};

#define DP_MAX_EVENTS 64

struct fake_dp {
	struct dp_event ev[DP_MAX_EVENTS];
	unsigned n;
	int watch_fd;  /* an fd number to probe at each call, -1 none */
	int fail_next_start; /* nonzero: the next ring_start answers it, once */
	int sync_avail;      /* >= 0: ring_sync publishes it as last_avail_idx */
};

extern const struct usv_datapath_ops fake_dp_ops;
void fake_dp_clear(struct fake_dp *dp);

/* ---- processes and fds --------------------------------------------------- */

/* Open fds of this process (entries of /proc/self/fd). */
int count_open_fds(void);
/* Is fd an open descriptor of this process? */
bool fd_is_open(int fd);
/* A number that is no open fd right now. */
int closed_fd_number(void);
/* An AF_PACKET raw socket, or a detached tun fd: what NET_SET_BACKEND
 * accepts. -1 and a reason when this process lacks the privileges. */
int open_backend(char *why, size_t n);
int open_packet_socket(char *why, size_t n);
int open_tun(char *why, size_t n);
/* A child process that can become an owner, then exec or exit on request.
 * addr: a private page of the child holding 0xab. */
struct unit_child {
	pid_t pid;
	int cmd;       /* write 'e' (exec sleep) or 'x' (exit) */
	int done;      /* EOF once the child exec'd or exited */
	uint64_t addr;
};
void child_start(struct unit_child *c);
/* Tells the child to exec or exit and returns once it has. */
void child_go(struct unit_child *c, char what);
/* Kills and reaps it. */
void child_end(struct unit_child *c);
/* Quiet the core's info lines unless USV_TEST_LOG=debug|info is set. */
void unit_log_setup(void);

/* ---- one device on a list ---------------------------------------------- */

#define ENV_MAX_FDS 32
#define ENV_GUEST_SIZE (64 * 1024)

struct env {
	struct usv_devlist list;
	struct fake_dp dp;
	struct ufake u;
	struct usv_dev *dev;
	unsigned handle;
	struct usv_caller owner; /* this process */
	struct usv_caller other; /* another process */
	uint8_t *guest;          /* private anonymous memory holding the rings */
	int fds[ENV_MAX_FDS];    /* fds the test opened, closed at teardown */
	unsigned nfds;
	int fds_at_start;
};

/* cmocka setup/teardown: a list with fake_dp and one device. Teardown closes
 * the test's fds, destroys the list and fails if an fd leaked. */
int env_setup(void **state);
int env_setup_profile(void **state, const struct usv_profile *profile);
int env_teardown(void **state);

/* Registers a test fd for teardown; returns it. */
int env_keep(struct env *e, int fd);
int env_eventfd(struct env *e);
/* A pipe; returns the read end (both ends are kept). */
int env_pipe(struct env *e);

/* One ioctl: payload copied to the start of the caller's buffer, arg at it. */
int env_ioctl(struct env *e, const struct usv_caller *who, uint32_t cmd,
	      const void *in, size_t len);
/* One ioctl with arg at any address, the buffer left as it is. */
int env_ioctl_at(struct env *e, const struct usv_caller *who, uint32_t cmd,
		 uint64_t arg);
int env_state(struct env *e, const struct usv_caller *who, uint32_t cmd,
	      uint32_t index, uint32_t num);
int env_file(struct env *e, const struct usv_caller *who, uint32_t cmd,
	     uint32_t index, int fd);
int env_u64(struct env *e, const struct usv_caller *who, uint32_t cmd,
	    uint64_t v);
/* The {index, num} the last GET wrote at the start of the buffer. */
struct usv_vhost_vring_state env_out_state(const struct env *e);
uint64_t env_out_u64(const struct env *e, size_t off);

int env_set_owner(struct env *e);
/* SET_MEM_TABLE with n regions. */
int env_mem_table(struct env *e, const struct usv_vhost_memory_region *r,
		  uint32_t n);
/* One region: guest physical 0 = e->guest. */
int env_mem_guest(struct env *e);
int env_vring_addr(struct env *e, uint32_t index, uint32_t flags, uint64_t desc,
		   uint64_t used, uint64_t avail, uint64_t log);
/* Where ring idx lives in e->guest. */
uint64_t env_ring_desc(const struct env *e, unsigned idx);
uint64_t env_ring_avail(const struct env *e, unsigned idx);
uint64_t env_ring_used(const struct env *e, unsigned idx);
/* Owner, memory table, ring num 256 and addresses in e->guest (each only
 * when missing), then NET_SET_BACKEND {idx, backend}. */
int env_start_ring(struct env *e, unsigned idx, int backend);
/* A backend fd kept by the env, or skip() the test with the reason. */
int env_backend_or_skip(struct env *e);

/* Events of one kind (and ring, what) recorded since the last clear. */
unsigned dp_count(const struct env *e, enum dp_kind kind, unsigned idx,
		  unsigned what);
const struct dp_event *dp_last(const struct env *e);

/*
 * Asserts the kernel's answer want. While usvhost still gives the known,
 * reported different answer, the test is skipped with a note instead
 * (USV_TEST_STRICT=1 makes it fail), as in test_vring.c.
 */
void expect_kernel(int got, int want, int known, const char *what);

/* assert_int_equal() for an answer, naming the case (loops over cases). */
#define check_ret(got, want, ...)                                              \
	do {                                                                   \
		int got_ = (got), want_ = (want);                              \
		if (got_ != want_) {                                           \
			char case_[160];                                       \
			snprintf(case_, sizeof(case_), __VA_ARGS__);           \
			fail_msg("%s: got %d (%s), want %d (%s)", case_, got_,  \
				 strerror(-got_), want_, strerror(-want_));    \
		}                                                              \
	} while (0)

#define SKIP_BECAUSE(...)                                                      \
	do {                                                                   \
		print_message("skipped: " __VA_ARGS__);                        \
		print_message("\n");                                           \
		skip();                                                        \
	} while (0)

#endif
