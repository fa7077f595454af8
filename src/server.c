/*
 * server.c - probe and metrics endpoint (see server.h). Non-blocking; never waits on a client.
 */
#include "server.h"
#include "pz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int server_open(struct server *s, const char *addr, server_handler h, void *arg)
{
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	const char *colon = strrchr(addr, ':');
	char host[64];
	int port, one = 1, fd, v6 = 0;
	size_t hl;

	memset(s, 0, sizeof *s);
	s->fd = -1;
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++)
		s->client[i].fd = -1;
	s->handler = h;
	s->arg = arg;
	if (strcmp(addr, "0") == 0)
		return 0;
	if (!colon)
		return PZ_ECONFIG;
	port = atoi(colon + 1);
	if (port < 0 || port > 65535)
		return PZ_ECONFIG;
	hl = (size_t)(colon - addr);
	if (hl >= sizeof host)
		return PZ_ECONFIG;
	memcpy(host, addr, hl);
	host[hl] = 0;
	memset(&sa4, 0, sizeof sa4);
	memset(&sa6, 0, sizeof sa6);
	if (hl == 0) {
		v6 = 1; /* dual-stack wildcard */
		sa6.sin6_addr = in6addr_any;
	} else if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		v6 = 1;
		if (inet_pton(AF_INET6, host + 1, &sa6.sin6_addr) != 1)
			return PZ_ECONFIG;
	} else if (inet_pton(AF_INET, host, &sa4.sin_addr) != 1) {
		return PZ_ECONFIG;
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && v6 && hl == 0) {
		/* no IPv6 in this kernel: fall back to IPv4 any */
		v6 = 0;
		sa4.sin_addr.s_addr = htonl(INADDR_ANY);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (v6) {
		int zero = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons((uint16_t)port);
	} else {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons((uint16_t)port);
	}
	if (bind(fd, v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4, v6 ? sizeof sa6 : sizeof sa4) < 0 ||
	    listen(fd, 16) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	s->fd = fd;
	return 0;
}

int server_port(const struct server *s)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	if (s->fd < 0 || getsockname(s->fd, (struct sockaddr *)&ss, &l) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int server_pollfds(const struct server *s, struct pollfd *fds)
{
	int n = 0, free_slot = 0;
	if (s->fd < 0)
		return 0;
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		if (s->client[i].fd >= 0) {
			fds[n].fd = s->client[i].fd;
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			n++;
		} else {
			free_slot = 1;
		}
	}
	if (free_slot) {
		/* Only accept when a client slot is free: the backlog holds the rest. */
		fds[n].fd = s->fd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	return n;
}

int64_t server_deadline(const struct server *s)
{
	int64_t d = INT64_MAX;
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++)
		if (s->client[i].fd >= 0 && s->client[i].deadline < d)
			d = s->client[i].deadline;
	return d;
}

/* The blank line ending a request head. Not memmem: libc's two-way search costs 800 bytes of
 * binary for a 2 KiB buffer. */
static int head_complete(const char *p, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
			return 1;
	return 0;
}

static void drop(struct server_client *c)
{
	close(c->fd);
	c->fd = -1;
}

static void answer(struct server *s, struct server_client *c)
{
	char head[160], path[128];
	const char *reason;
	size_t blen = 0, hl, off = 0;
	int status = 404, n;
	char *sp = memchr(c->req, ' ', c->len), *sp2;

	if (!sp || (sp2 = memchr(sp + 1, ' ', c->len - (size_t)(sp + 1 - c->req))) == NULL ||
	    (size_t)(sp2 - sp - 1) >= sizeof path || memcmp(c->req, "GET ", 4) != 0) {
		status = 400;
		path[0] = 0;
	} else {
		memcpy(path, sp + 1, (size_t)(sp2 - sp - 1));
		path[sp2 - sp - 1] = 0;
		path[strcspn(path, "?")] = 0;
		status = s->handler(s->arg, path, s->resp, sizeof s->resp, &blen);
	}
	if (status != 200 && blen == 0) {
		blen = (size_t)snprintf(s->resp, sizeof s->resp, "%d\n", status);
	}
	reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 400 ? "Bad Request"
		: "Service Unavailable";
	n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n", status, reason, blen);
	hl = (size_t)n;
	/* Small answers to a local client: the socket buffer takes them whole. A client that does not
	 * read is not waited for: what does not fit is dropped with the connection. */
	while (off < hl) {
		ssize_t w = send(c->fd, head + off, hl - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	off = 0;
	while (off < blen) {
		ssize_t w = send(c->fd, s->resp + off, blen - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	drop(c);
}

void server_step(struct server *s, int64_t now)
{
	if (s->fd < 0)
		return;
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		struct server_client *c = &s->client[i];
		if (c->fd >= 0)
			continue;
		c->fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c->fd < 0) {
			c->fd = -1;
			break;
		}
		c->len = 0;
		c->deadline = now + SERVER_CLIENT_TIMEOUT_MS;
	}
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		struct server_client *c = &s->client[i];
		if (c->fd < 0)
			continue;
		for (;;) {
			ssize_t r = recv(c->fd, c->req + c->len, sizeof c->req - c->len, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
					drop(c);
				break;
			}
			c->len += (size_t)r;
			if (head_complete(c->req, c->len)) {
				answer(s, c);
				break;
			}
			if (c->len == sizeof c->req) {
				drop(c);
				break;
			}
		}
		if (c->fd >= 0 && now >= c->deadline)
			drop(c);
	}
}
