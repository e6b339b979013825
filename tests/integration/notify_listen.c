/* SPDX-License-Identifier: MIT */
/*
 * notify_listen SOCKET NODE SECONDS: plays systemd's side of sd_notify(3).
 * Binds a datagram socket at SOCKET (a path, or @name for an abstract one),
 * and prints one line per message as it arrives:
 *   msg pid=PID node=present|absent capeff=HEX: KEY=value KEY=value...
 * pid is the sender's, from the credentials the kernel attaches; node says
 * whether NODE existed when the message arrived; capeff is the sender's
 * effective capability set at that moment (from /proc/PID/status). Exits 0
 * after a message with STOPPING=1, 1 when SECONDS pass without one.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void cap_eff(pid_t pid, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(out, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7) && sscanf(line + 7, "%63s", out) == 1)
			break;
	fclose(f);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen;
	struct timespec end, now;
	int fd, one = 1;
	size_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: notify_listen SOCKET NODE SECONDS\n");
		return 2;
	}
	len = strlen(argv[1]);
	if (!len || len >= sizeof(sa.sun_path)) {
		fprintf(stderr, "notify_listen: bad socket name\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[1], len);
	if (argv[1][0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (argv[1][0] != '@'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, salen) ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
		perror("notify_listen: socket");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[3]);
	for (;;) {
		char buf[4096], cbuf[CMSG_SPACE(sizeof(struct ucred))], caps[64];
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct ucred cred = { .pid = -1 };
		struct cmsghdr *c;
		struct stat st;
		bool present;
		ssize_t n;
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			printf("timeout\n");
			return 1;
		}
		n = recvmsg(fd, &mh, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("notify_listen: recvmsg");
			return 2;
		}
		buf[n] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
		/* The sender's state as soon as we can, then the node (a stat of a
		 * FUSE file waits until the daemon serves). */
		cap_eff(cred.pid, caps, sizeof(caps));
		present = stat(argv[2], &st) == 0;
		for (char *p = buf; *p; p++)
			if (*p == '\n')
				*p = ' ';
		printf("msg pid=%d node=%s capeff=%s: %s\n", (int)cred.pid,
		       present ? "present" : "absent", caps, buf);
		fflush(stdout);
		if (strstr(buf, "STOPPING=1"))
			return 0;
	}
}
