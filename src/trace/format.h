/* SPDX-License-Identifier: MIT */
/*
 * The usvhost trace format (usvhost-trace(5)): one JSON object per line,
 * written by usvhostd --trace and read by usvhost-trace. This file holds
 * what writer and readers share: the version, the names of feature bits,
 * tun flags and record fields, and the JSON helpers (json-c).
 *
 * 64-bit quantities that may exceed 2^53 (features, addresses) are written
 * as "0x..." strings; counts, indexes, fds and times as JSON integers.
 */
#ifndef USV_TRACE_FORMAT_H
#define USV_TRACE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#define USV_TRACE_FORMAT "usvhost-trace"
/* Major version: readers refuse a trace with a higher one. New fields and
 * record types may appear within a version; readers ignore what they do not
 * know. */
#define USV_TRACE_VERSION 1

/* "0x1a" for a u64. */
json_object *usv_tj_hex(uint64_t v);
/* A member as u64: a "0x..." or decimal string, or a JSON integer. */
bool usv_tj_u64(json_object *obj, const char *key, uint64_t *v);
bool usv_tj_i64(json_object *obj, const char *key, int64_t *v);
/* A member as a string, or NULL. */
const char *usv_tj_str(json_object *obj, const char *key);
/* A member object/array, or NULL. */
json_object *usv_tj_obj(json_object *obj, const char *key);
json_object *usv_tj_arr(json_object *obj, const char *key);

/* Name of a virtio / vhost feature bit, or NULL. */
const char *usv_feature_name(unsigned bit);
/* ["MRG_RXBUF", "VERSION_1", "bit45", ...] for the set bits of a word. */
json_object *usv_tj_feature_names(uint64_t word, unsigned first_bit);
/* "TAP|NO_PI|VNET_HDR" for TUNGETIFF flags, into buf. */
const char *usv_tun_flags_str(unsigned flags, char *buf, size_t len);
/* Feature names separated by '|', into buf ("-" for none). */
const char *usv_features_str(uint64_t word, unsigned first_bit, char *buf, size_t len);

/* One line of a trace: the parsed object (caller puts it), or NULL at end.
 * -1 with a message in err on a line that is not a JSON object. */
int usv_trace_read_line(FILE *f, json_object **rec, unsigned *lineno, char *err,
			size_t errlen);
/* Checks a header record; 0, or -1 with a message. */
int usv_trace_check_header(json_object *rec, char *err, size_t errlen);

#endif
