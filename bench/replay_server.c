/*
 * replay_server.c - a TLS server on loopback that plays a recorded API server back at full speed.
 * For the replay benchmark only: no API server in the way, so what is measured is the client.
 *
 *   replay_server PORT CERT.pem KEY.pem EVENTS.jsonl CYCLES LIST_ITEMS
 *
 * Every connection gets one response, then is closed:
 *   a path with "watch=1"  -> 200, chunked: the recorded event lines, CYCLES times over
 *   any other path         -> 200, chunked: a list of LIST_ITEMS orders made from the first recorded
 *                             object (distinct names and uids), with its metadata at the end as a
 *                             real API server writes it; "continue" empty (one page, the worst case
 *                             for a client that buffers pages)
 * It serves connections one after another until killed. Blocking I/O through br_sslio is fine here.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		perror(path);
		exit(1);
	}
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static int sock_read(void *ctx, unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(*(int *)ctx, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

static int sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = write(*(int *)ctx, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

/* Appends body bytes as chunks of at most 16000 bytes (one TLS record each, as Go's server does). */
struct out {
	char *buf;
	size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->buf = realloc(o->buf, o->cap);
		if (!o->buf)
			exit(1);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void chunked(struct out *o, const char *p, size_t n)
{
	while (n > 0) {
		char h[16];
		size_t k = n > 16000 ? 16000 : n;
		int hl = snprintf(h, sizeof h, "%zx\r\n", k);
		put(o, h, (size_t)hl);
		put(o, p, k);
		put(o, "\r\n", 2);
		p += k;
		n -= k;
	}
}

int main(int argc, char **argv)
{
	static struct tls_creds creds;
	static br_ssl_server_context sc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	struct sockaddr_in sa;
	struct out watch = { 0 }, list = { 0 }, items = { 0 };
	size_t cl, kl, el;
	char *cert, *key, *events;
	int port, cycles, nitems, one = 1, lfd;

	if (argc != 7) {
		fprintf(stderr, "usage: replay_server PORT CERT.pem KEY.pem EVENTS.jsonl CYCLES LIST_ITEMS\n");
		return 2;
	}
	port = atoi(argv[1]);
	cycles = atoi(argv[5]);
	nitems = atoi(argv[6]);
	cert = slurp(argv[2], &cl);
	key = slurp(argv[3], &kl);
	events = slurp(argv[4], &el);
	if (tls_creds_set_client_pem(&creds, cert, cl, key, kl) < 0) {
		fprintf(stderr, "replay_server: bad certificate or key\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	/* The watch body, once; written `cycles` times per connection. */
	chunked(&watch, events, el);

	/* List items from the first recorded object: its name and uid values are replaced per item. */
	{
		const char *obj = strstr(events, "\"object\":"), *end, *nm, *uid;
		if (!obj)
			return 1;
		obj += 9;
		end = strchr(obj, '\n');
		while (end > obj && end[-1] != '}')
			end--;
		end--; /* the event's closing brace; the object ends before it */
		nm = strstr(obj, "\"name\":\"replay-001\"");
		uid = strstr(obj, "\"uid\":\"");
		if (!nm || !uid || uid < nm)
			return 1;
		nm += 8;
		uid += 7;
		for (int i = 0; i < nitems; i++) {
			char name[32], u[40];
			snprintf(name, sizeof name, "bench-%06d", i);
			snprintf(u, sizeof u, "%08x-0000-4000-8000-%012x", i, i);
			if (i)
				put(&items, ",", 1);
			put(&items, obj, (size_t)(nm - obj));
			put(&items, name, strlen(name));
			put(&items, nm + 10, (size_t)(uid - nm - 10));
			put(&items, u, 36);
			put(&items, uid + 36, (size_t)(end - uid - 36));
		}
		const char *head = "{\"apiVersion\":\"pizzeria.example.com/v1\",\"items\":[";
		const char *tail = "],\"kind\":\"PizzaOrderList\",\"metadata\":{\"continue\":\"\",\"resourceVersion\":\"100\"}}\n";
		struct out body = { 0 };
		put(&body, head, strlen(head));
		put(&body, items.buf ? items.buf : "", items.len);
		put(&body, tail, strlen(tail));
		chunked(&list, body.buf, body.len);
		put(&list, "0\r\n\r\n", 5);
	}

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 8) < 0) {
		perror("bind");
		return 1;
	}
	fprintf(stderr, "replay_server: listening on 127.0.0.1:%d (%zu event bytes x %d, list of %d)\n", port, el,
		cycles, nitems);
	for (;;) {
		br_sslio_context ioc;
		char req[4096];
		size_t rl = 0;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		const br_skey_decoder_context *k = &creds.key;
		if (br_skey_decoder_key_type(k) == BR_KEYTYPE_EC)
			br_ssl_server_init_full_ec(&sc, creds.chain, creds.nchain, BR_KEYTYPE_EC, br_skey_decoder_get_ec(k));
		else
			br_ssl_server_init_full_rsa(&sc, creds.chain, creds.nchain, br_skey_decoder_get_rsa(k));
		br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
		br_ssl_server_reset(&sc);
		br_sslio_init(&ioc, &sc.eng, sock_read, &fd, sock_write, &fd);
		while (rl < sizeof req - 1) {
			int n = br_sslio_read(&ioc, req + rl, 1);
			if (n <= 0)
				break;
			rl += (size_t)n;
			if (rl >= 4 && memcmp(req + rl - 4, "\r\n\r\n", 4) == 0)
				break;
		}
		req[rl] = 0;
		const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
		if (br_sslio_write_all(&ioc, ok, strlen(ok)) == 0) {
			if (strstr(req, "watch=1")) {
				for (int c = 0; c < cycles; c++)
					if (br_sslio_write_all(&ioc, watch.buf, watch.len) < 0)
						break;
				br_sslio_write_all(&ioc, "0\r\n\r\n", 5);
			} else {
				br_sslio_write_all(&ioc, list.buf, list.len);
			}
			br_sslio_flush(&ioc);
		}
		br_sslio_close(&ioc);
		close(fd);
	}
}
