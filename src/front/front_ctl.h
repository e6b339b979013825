/* SPDX-License-Identifier: MIT */
/* The loop's side of the hand-over switch (front/front_ctl.c); the asking
 * side is in front/front.h. */
#ifndef USV_FRONT_FRONT_CTL_H
#define USV_FRONT_FRONT_CTL_H

#include <stdbool.h>

struct usv_front_ctl;

/* Readable while a hand-over is pending. */
int usv_front_ctl_fd(struct usv_front_ctl *c);
/* Marks the front serving (hand-overs may be asked) or not. */
void usv_front_ctl_serving(struct usv_front_ctl *c, bool on);
/* A hand-over was asked (and not yet finished). */
bool usv_front_ctl_pending(struct usv_front_ctl *c);
/* The asked hand-over is over (handed or failed): another may be asked. */
void usv_front_ctl_done(struct usv_front_ctl *c);

#endif
