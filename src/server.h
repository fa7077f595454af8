/*
 * server.h - the HTTP endpoint for probes and metrics: /healthz, /readyz, /metrics.
 *
 * Plain HTTP on --metrics-bind-address, as controller-runtime serves them. It answers one request
 * per connection from a fixed set of SERVER_CLIENTS_MAX clients; a client that does not send its
 * request head within SERVER_CLIENT_TIMEOUT_MS or sends more than SERVER_REQ_MAX bytes is dropped.
 * The body is produced by the caller's callback into a fixed buffer.
 */
#ifndef PZ_SERVER_H
#define PZ_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define SERVER_CLIENTS_MAX 4        /* a kubelet's two probes and a scraper, with one spare */
#define SERVER_REQ_MAX 2048          /* request head; Prometheus sends ~300 bytes */
#define SERVER_RESP_MAX 8192         /* the metrics page is ~3 KiB */
#define SERVER_CLIENT_TIMEOUT_MS 5000

/* Fills body for path; returns the HTTP status to send (200, 404, 503). */
typedef int (*server_handler)(void *arg, const char *path, char *body, size_t cap, size_t *len);

struct server_client {
	int fd;
	int64_t deadline;
	size_t len;
	char req[SERVER_REQ_MAX];
};

struct server {
	int fd;
	server_handler handler;
	void *arg;
	struct server_client client[SERVER_CLIENTS_MAX];
	char resp[SERVER_RESP_MAX];
};

/* Binds "[host]:port" (":8080" means every address; "0" disables). Returns 0, PZ_ECONFIG or -errno. */
int server_open(struct server *s, const char *addr, server_handler h, void *arg);
/* Adds this server's descriptors to fds (at most 1 + SERVER_CLIENTS_MAX); returns how many. */
int server_pollfds(const struct server *s, struct pollfd *fds);
/* Earliest client deadline, or INT64_MAX. */
int64_t server_deadline(const struct server *s);
/* Accepts, reads and answers whatever is ready; drops clients past their deadline. */
void server_step(struct server *s, int64_t now);
/* The port actually bound (for ":0" in tests), or -1. */
int server_port(const struct server *s);

#endif
