/* SPDX-License-Identifier: MIT */
/* What both fronts share to hand their session over or inherit one. */
#ifndef USV_FRONT_HANDOVER_H
#define USV_FRONT_HANDOVER_H

#include <stdbool.h>

#include "front/front.h"
#include "front/loop.h"

struct fuse_session;

/* Serves se until a stop or a successful hand-over (USV_LOOP_HANDOVER);
 * a failed hand-over serves on. 0 on a stop, -EIO when the session
 * failed. */
int usv_front_serve(struct fuse_session *se, const struct usv_front_config *cfg,
		    bool cuse, struct usv_front_loop *loop, struct usv_front_init *init);
/* Attaches the inherited session fd to se and feeds se the INIT that st
 * records; -EBADF, -EPROTO (se refused it). */
int usv_front_inherit(struct fuse_session *se, int fd, const struct usv_front_state *st);
/* The INIT record a front that inherited st hands on again. */
void usv_front_init_from_state(const struct usv_front_state *st, struct usv_front_init *init);
/* Makes fd non-blocking, as the loop needs (before the seccomp filter,
 * which refuses F_SETFL). */
int usv_front_set_nonblock(int fd);

#endif
