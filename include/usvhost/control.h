/* SPDX-License-Identifier: MIT */
/*
 * usvhostd's control socket protocol, shared by the daemon and usvhostctl
 * (docs/control.md is the full description).
 *
 * A unix stream socket. The client writes one request per line, a JSON
 * object; the daemon answers each, in order, with one line:
 *   {"proto":1,"id":7,"cmd":"trace","args":{"state":"on","name":"t.json"},"fds":1}
 *   {"proto":1,"id":7,"ok":true,"result":{...}}
 *   {"proto":1,"id":7,"ok":false,"error":{"code":"EPROTO","message":"..."}}
 * "proto" is this version: a request with another one is refused with
 * EPROTO (the answer still says which the daemon speaks). "id" is echoed.
 * "fds": N says that N descriptors came with the request, as SCM_RIGHTS on
 * the sendmsg() that carried its first byte; an answer may carry some the
 * same way (a later takeover command hands over devices like this).
 */
#ifndef USVHOST_CONTROL_H
#define USVHOST_CONTROL_H

#define USV_CONTROL_PROTO 1
/* Where the CUSE front's socket is by default (device name vhost-net);
 * /run/usvhost/control-NAME for --name=NAME. */
#define USV_CONTROL_DIR "/run/usvhost"
#define USV_CONTROL_DEFAULT "/run/usvhost/control"
/* Longest request line, newline included; longer ones are refused and the
 * connection closed. */
#define USV_CONTROL_REQ_MAX 8192
/* Descriptors one request may carry. */
#define USV_CONTROL_FDS_MAX 4

#endif
