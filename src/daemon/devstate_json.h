/* SPDX-License-Identifier: MIT */
/*
 * A device's state (core/devstate.h) as JSON, for usvhostd --takeover: one
 * object per device, format version USV_DEVSTATE_VERSION, fds named by
 * their index in the vector sent along (-1: none).
 */
#ifndef USV_DAEMON_DEVSTATE_JSON_H
#define USV_DAEMON_DEVSTATE_JSON_H

#include <json-c/json.h>

#include "core/devstate.h"

/* Stops every running ring of device handle (the datapath's ring_stop: in-
 * flight work published, indexes exact as GET_VRING_BASE; the backend stays
 * attached, the ring paused) and describes the whole device as *out, its fds
 * appended to *fds (borrowed: the device keeps them open). -ENOENT unknown
 * handle, -ENOMEM (then *fds is as it was; the rings stay paused until
 * usv_devstate_resume). Takes the device lock: call with no request in
 * flight on the device. */
int usv_devstate_save(struct usv_devlist *devs, unsigned handle, json_object **out,
		      struct usv_fdvec *fds);
/* Builds the device described by state in devs under its saved handle and
 * uid, rings configured but not started (usv_devstate_resume starts them).
 * Takes the fds it uses out of fds[0..nfds) (sets those entries to -1; the
 * caller closes the rest). On failure nothing is added and no entry of fds
 * is touched: -EEXIST handle in use, -EINVAL malformed state (an fd index out
 * of range, used twice or naming -1 among them), -EBADF an fd that is not
 * what its place needs, -ENOMEM. */
int usv_devstate_restore(struct usv_devlist *devs, json_object *state, int *fds,
			 unsigned nfds);

#endif
