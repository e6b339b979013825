/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the live upgrade's state parsers, which read another
 * daemon's JSON as untrusted input. The input is JSON text (docs/
 * operations.md, "The state, version 1"): a device's state, fed to
 * usv_devstate_restore() on a device list of the default profile (a fake
 * datapath that does nothing), and the front's state, fed to
 * usv_front_state_from_json() (the "front" member, and the whole object).
 * Anything but an object is skipped. A whole hand-over message (an object
 * with a "devices" array) has each of its first 4 devices restored in turn.
 *
 * The descriptors handed over with it are the harness's, opened once, and
 * passed as fresh dup()s on each run, by index:
 *   0 a pidfd of this process, 1 its /proc/self/mem (the owner's pair),
 *   2 a memfd of 4 pages sealed against shrinking (a mapped region),
 *   3..8 eventfds (kicks, calls, err, the log),
 *   9 a detached /dev/net/tun fd, 10 an AF_PACKET socket (backends; an
 *   eventfd in their place when this process may not open them).
 * An owner's "tgid" of 1 stands for this process (the fuzzer's pid changes
 * from run to run): the harness writes its pid there before restoring.
 *
 * Invariants: restore answers 0 or -errno; on failure the list holds no
 * device and every fd passed is still open and still the caller's; on
 * success the device is in the list under its handle, the fds it took stay
 * open, and removing it closes them all (no fd left open after the run).
 * usv_front_state_from_json answers 0 or -EINVAL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/devstate.h"
#include "core/log.h"
#include "core/profile.h"
#include "daemon/devstate_json.h"
#include "front/front.h"
#include "fuzz.h"

#define NFDS 11
#define MEMFD_SIZE (4 * 4096)
/* The owner's tgid in an input that stands for this process. */
#define SELF_TGID 1
/* Devices of a whole hand-over message restored, one after the other. */
#define MAX_DEVICES 4

struct fz {
	int fds[NFDS];
	struct usv_devlist list;
	bool verbose; /* FUZZ_VERBOSE: each answer on stderr */
};

static struct fz fz;

/* The datapath never runs here: restore leaves rings paused. */
static int dp_start(void *ctx, struct usv_dev *dev, const struct usv_ring_config *cfg)
{
	(void)ctx;
	(void)dev;
	(void)cfg;
	return 0;
}

static const struct usv_datapath_ops fake_dp = {
	.ring_start = dp_start,
	.ring_stop = fuzz_dp_stop,
	.ring_update = fuzz_dp_update,
	.ring_sync = fuzz_dp_stop,
};

static int open_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		abort();
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	usv_log_setup(USV_LOG_ERR, false);
	fz.verbose = getenv("FUZZ_VERBOSE") && strcmp(getenv("FUZZ_VERBOSE"), "0");
	fz.fds[0] = (int)syscall(SYS_pidfd_open, getpid(), 0);
	fz.fds[1] = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	fz.fds[2] = memfd_create("fuzz-devstate", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fz.fds[0] < 0 || fz.fds[1] < 0 || fz.fds[2] < 0 ||
	    ftruncate(fz.fds[2], MEMFD_SIZE) || fcntl(fz.fds[2], F_ADD_SEALS, F_SEAL_SHRINK))
		abort();
	for (unsigned i = 3; i <= 8; i++)
		fz.fds[i] = open_eventfd();
	/* Backends restore accepts; either may be refused us. */
	fz.fds[9] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	fz.fds[10] = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	for (unsigned i = 9; i < NFDS; i++)
		if (fz.fds[i] < 0)
			fz.fds[i] = open_eventfd();
	if (usv_devlist_init(&fz.list, usv_profile_default(), &fake_dp, NULL))
		abort();
	return 0;
}

static json_object *parse(const uint8_t *data, size_t size)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;

	if (!tok)
		abort();
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	if (o && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Owner tgid SELF_TGID: this process. */
static void own_tgid(json_object *state)
{
	json_object *owner, *tgid;

	if (json_object_object_get_ex(state, "owner", &owner) &&
	    json_object_is_type(owner, json_type_object) &&
	    json_object_object_get_ex(owner, "tgid", &tgid) &&
	    json_object_is_type(tgid, json_type_int) &&
	    json_object_get_int64(tgid) == SELF_TGID)
		json_object_set_int64(tgid, getpid());
}

static void check_front(json_object *j)
{
	struct usv_front_state s;
	int ret = usv_front_state_from_json(j, &s);

	if (fz.verbose)
		fprintf(stderr, "front: %d\n", ret);

	FUZZ_ASSERT(ret == 0 || ret == -EINVAL, "front_state_from_json answered %d", ret);
}

static void restore(json_object *state)
{
	int dups[NFDS], nums[NFDS], before = fuzz_open_fds(), ret;
	json_object *h;

	for (unsigned i = 0; i < NFDS; i++) {
		dups[i] = nums[i] = fcntl(fz.fds[i], F_DUPFD_CLOEXEC, 0);
		if (dups[i] < 0)
			abort();
	}
	ret = usv_devstate_restore(&fz.list, state, dups, NFDS);
	if (fz.verbose)
		fprintf(stderr, "restore: %d\n", ret);
	FUZZ_ASSERT(ret <= 0 && ret >= -4095, "restore answered %d", ret);
	if (ret) {
		FUZZ_ASSERT(usv_devlist_count(&fz.list) == 0,
			    "restore failed (%d) but added a device", ret);
		for (unsigned i = 0; i < NFDS; i++)
			FUZZ_ASSERT(dups[i] == nums[i] && fcntl(nums[i], F_GETFD) >= 0,
				    "restore failed (%d) but took or closed fd index %u", ret, i);
	} else {
		unsigned handle;

		FUZZ_ASSERT(json_object_object_get_ex(state, "handle", &h),
			    "restored a state without a handle");
		handle = (unsigned)json_object_get_uint64(h);
		FUZZ_ASSERT(usv_devlist_count(&fz.list) == 1 &&
				    usv_devlist_get(&fz.list, handle),
			    "restored device %u is not in the list", handle);
		for (unsigned i = 0; i < NFDS; i++)
			FUZZ_ASSERT(dups[i] == nums[i] || dups[i] == -1,
				    "restore changed fd index %u to %d", i, dups[i]);
		for (unsigned i = 0; i < NFDS; i++)
			FUZZ_ASSERT(fcntl(nums[i], F_GETFD) >= 0,
				    "fd index %u closed by a successful restore", i);
		FUZZ_ASSERT(usv_devlist_remove(&fz.list, handle) == 0,
			    "restored device %u cannot be removed", handle);
		FUZZ_ASSERT(usv_devlist_count(&fz.list) == 0, "device %u left", handle);
	}
	for (unsigned i = 0; i < NFDS; i++)
		if (dups[i] >= 0)
			close(dups[i]);
	FUZZ_ASSERT(fuzz_open_fds() == before, "fds open: %d before the run, %d after",
		    before, fuzz_open_fds());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *j, *front, *devices;

	if (size > INT32_MAX)
		return 0;
	j = parse(data, size);
	if (!j || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		return 0;
	}
	check_front(j);
	if (json_object_object_get_ex(j, "front", &front))
		check_front(front);
	/* A device's state, or the whole hand-over message: then each of its
	 * first devices in turn. */
	if (json_object_object_get_ex(j, "devices", &devices) &&
	    json_object_is_type(devices, json_type_array)) {
		size_t n = json_object_array_length(devices);

		for (size_t i = 0; i < n && i < MAX_DEVICES; i++) {
			json_object *dev = json_object_array_get_idx(devices, i);

			if (json_object_is_type(dev, json_type_object)) {
				own_tgid(dev);
				restore(dev);
			}
		}
	} else {
		own_tgid(j);
		restore(j);
	}
	json_object_put(j);
	return 0;
}
