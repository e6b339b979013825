/* SPDX-License-Identifier: MIT */
#include "trace/format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_tun.h>

json_object *usv_tj_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_object_new_string(buf);
}

bool usv_tj_u64(json_object *obj, const char *key, uint64_t *v)
{
	json_object *m;
	const char *s;
	char *end;

	if (!obj || !json_object_object_get_ex(obj, key, &m))
		return false;
	if (json_object_is_type(m, json_type_int)) {
		*v = (uint64_t)json_object_get_int64(m);
		return true;
	}
	if (!json_object_is_type(m, json_type_string))
		return false;
	s = json_object_get_string(m);
	if (!*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

bool usv_tj_i64(json_object *obj, const char *key, int64_t *v)
{
	json_object *m;

	if (!obj || !json_object_object_get_ex(obj, key, &m) ||
	    !json_object_is_type(m, json_type_int))
		return false;
	*v = json_object_get_int64(m);
	return true;
}

const char *usv_tj_str(json_object *obj, const char *key)
{
	json_object *m;

	if (!obj || !json_object_object_get_ex(obj, key, &m) ||
	    !json_object_is_type(m, json_type_string))
		return NULL;
	return json_object_get_string(m);
}

json_object *usv_tj_obj(json_object *obj, const char *key)
{
	json_object *m;

	if (!obj || !json_object_object_get_ex(obj, key, &m) ||
	    !json_object_is_type(m, json_type_object))
		return NULL;
	return m;
}

json_object *usv_tj_arr(json_object *obj, const char *key)
{
	json_object *m;

	if (!obj || !json_object_object_get_ex(obj, key, &m) ||
	    !json_object_is_type(m, json_type_array))
		return NULL;
	return m;
}

const char *usv_feature_name(unsigned bit)
{
	static const char *const names[] = {
		[0] = "CSUM", [1] = "GUEST_CSUM", [2] = "CTRL_GUEST_OFFLOADS",
		[3] = "MTU", [5] = "MAC", [7] = "GUEST_TSO4", [8] = "GUEST_TSO6",
		[9] = "GUEST_ECN", [10] = "GUEST_UFO", [11] = "HOST_TSO4",
		[12] = "HOST_TSO6", [13] = "HOST_ECN", [14] = "HOST_UFO",
		[15] = "MRG_RXBUF", [16] = "STATUS", [17] = "CTRL_VQ",
		[18] = "CTRL_RX", [19] = "CTRL_VLAN", [20] = "CTRL_RX_EXTRA",
		[21] = "GUEST_ANNOUNCE", [22] = "MQ", [23] = "CTRL_MAC_ADDR",
		[24] = "NOTIFY_ON_EMPTY", [26] = "LOG_ALL",
		[27] = "ANY_LAYOUT", /* also VHOST_NET_F_VIRTIO_NET_HDR */
		[28] = "INDIRECT_DESC", [29] = "EVENT_IDX", [30] = "BAD_FEATURE",
		[32] = "VERSION_1", [33] = "ACCESS_PLATFORM", [34] = "RING_PACKED",
		[35] = "IN_ORDER", [36] = "ORDER_PLATFORM", [37] = "SR_IOV",
		[38] = "NOTIFICATION_DATA", [39] = "NOTIF_CONFIG_DATA",
		[40] = "RING_RESET", [41] = "ADMIN_VQ",
		[51] = "DEVICE_STATS", [52] = "VQ_NOTF_COAL", [53] = "NOTF_COAL",
		[54] = "GUEST_USO4", [55] = "GUEST_USO6", [56] = "HOST_USO",
		[57] = "HASH_REPORT", [59] = "GUEST_HDRLEN", [60] = "RSS",
		[61] = "RSC_EXT", [62] = "STANDBY", [63] = "SPEED_DUPLEX",
		[64] = "RSS_CONTEXT", [65] = "GUEST_UDP_TUNNEL_GSO",
		[66] = "GUEST_UDP_TUNNEL_GSO_CSUM", [67] = "HOST_UDP_TUNNEL_GSO",
		[68] = "HOST_UDP_TUNNEL_GSO_CSUM",
	};

	return bit < sizeof(names) / sizeof(names[0]) ? names[bit] : NULL;
}

json_object *usv_tj_feature_names(uint64_t word, unsigned first_bit)
{
	json_object *arr = json_object_new_array();

	for (unsigned b = 0; b < 64; b++) {
		const char *n;
		char buf[16];

		if (!(word >> b & 1))
			continue;
		n = usv_feature_name(first_bit + b);
		if (!n) {
			snprintf(buf, sizeof(buf), "bit%u", first_bit + b);
			n = buf;
		}
		json_object_array_add(arr, json_object_new_string(n));
	}
	return arr;
}

const char *usv_features_str(uint64_t word, unsigned first_bit, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned b = 0; b < 64 && used + 1 < len; b++) {
		const char *n;
		int w;

		if (!(word >> b & 1))
			continue;
		n = usv_feature_name(first_bit + b);
		w = n ? snprintf(buf + used, len - used, "%s%s", used ? "|" : "", n)
		      : snprintf(buf + used, len - used, "%sbit%u", used ? "|" : "",
				 first_bit + b);
		if (w > 0)
			used += (size_t)w;
	}
	if (!used)
		snprintf(buf, len, "-");
	return buf;
}

const char *usv_tun_flags_str(unsigned flags, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } f[] = {
		{ IFF_TUN, "TUN" }, { IFF_TAP, "TAP" }, { IFF_NAPI, "NAPI" },
		{ IFF_NAPI_FRAGS, "NAPI_FRAGS" }, { IFF_MULTI_QUEUE, "MULTI_QUEUE" },
		{ IFF_PERSIST, "PERSIST" }, { IFF_NO_PI, "NO_PI" },
		{ IFF_ONE_QUEUE, "ONE_QUEUE" }, { IFF_VNET_HDR, "VNET_HDR" },
		{ IFF_TUN_EXCL, "TUN_EXCL" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]) && used + 1 < len; i++) {
		int w;

		if (!(flags & f[i].bit))
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? "|" : "", f[i].name);
		if (w > 0)
			used += (size_t)w;
		flags &= ~f[i].bit;
	}
	if (flags && used + 1 < len)
		snprintf(buf + used, len - used, "%s0x%x", used ? "|" : "", flags);
	return buf;
}

int usv_trace_read_line(FILE *f, json_object **rec, unsigned *lineno, char *err,
			size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*rec = NULL;
	for (;;) {
		enum json_tokener_error jerr;
		json_object *obj;
		char *p;

		n = getline(&line, &cap, f);
		if (n < 0) {
			free(line);
			return 0;
		}
		(*lineno)++;
		for (p = line; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
			;
		if (!*p)
			continue; /* blank lines are allowed */
		obj = json_tokener_parse_verbose(p, &jerr);
		if (!obj || !json_object_is_type(obj, json_type_object)) {
			snprintf(err, errlen, "line %u: not a JSON object (%s)", *lineno,
				 obj ? "another JSON value" : json_tokener_error_desc(jerr));
			json_object_put(obj);
			free(line);
			return -1;
		}
		free(line);
		*rec = obj;
		return 0;
	}
}

int usv_trace_check_header(json_object *rec, char *err, size_t errlen)
{
	const char *type = usv_tj_str(rec, "type"), *fmt = usv_tj_str(rec, "format");
	int64_t ver;

	if (!type || strcmp(type, "header") || !fmt || strcmp(fmt, USV_TRACE_FORMAT)) {
		snprintf(err, errlen, "not a usvhost trace (the first record must be "
			 "{\"type\":\"header\",\"format\":\"" USV_TRACE_FORMAT "\",...})");
		return -1;
	}
	if (!usv_tj_i64(rec, "version", &ver) || ver < 1) {
		snprintf(err, errlen, "trace header without a valid version");
		return -1;
	}
	if (ver > USV_TRACE_VERSION) {
		snprintf(err, errlen, "trace format version %" PRId64 " is newer than "
			 "this tool reads (%d)", ver, USV_TRACE_VERSION);
		return -1;
	}
	return 0;
}
