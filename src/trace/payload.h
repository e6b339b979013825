/* SPDX-License-Identifier: MIT */
/*
 * An ioctl's payload in a trace, both ways, from the table's schema
 * (core/ioctl_table.h): the recorder encodes the bytes an ioctl read or
 * wrote, replay builds the bytes again from the record. Field names are the
 * schema's; usvhost-trace(5) lists them.
 */
#ifndef USV_TRACE_PAYLOAD_H
#define USV_TRACE_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/ioctl_table.h"

/* What file fd of the caller is (an object), or NULL to say nothing. */
typedef json_object *(*usv_tj_file_fn)(void *ctx, int fd);

/*
 * Adds the fields of pl that the len bytes at p show (see
 * usv_ioctl_field_shown()) to o, then the array with every element read.
 * file (may be NULL) describes USV_FK_FD fields.
 */
void usv_tj_payload_encode(json_object *o, const struct usv_ioctl_payload *pl,
			   const uint8_t *p, size_t len, usv_tj_file_fn file,
			   void *ctx);

/*
 * The value to pass for a recorded fd or address field (replay's fresh fds
 * and memory): v as recorded; size is the element's USV_FF_SIZE field for a
 * USV_FK_REGION; holder is the object holding the field (an fd's "file").
 */
typedef uint64_t (*usv_tj_map_fn)(void *ctx, const struct usv_ioctl_field *f,
				  uint64_t v, uint64_t size, json_object *holder);

/* Fills buf (cap bytes, zeroed by the caller) from the record o of pl. */
void usv_tj_payload_build(const struct usv_ioctl_payload *pl, json_object *o,
			  uint8_t *buf, size_t cap, usv_tj_map_fn map, void *ctx);

#endif
