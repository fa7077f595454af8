/*
 * lease.h - leader election on a coordination.k8s.io/v1 Lease, with client-go's rules, as a state
 * machine on its own link that the event loop drives (a renewal never waits behind a reconcile).
 *
 * A candidate reads the Lease every retry period. It takes the Lease when there is none, when it
 * already holds it, or when the holder has not renewed it for the lease duration as measured on
 * OUR clock since we last saw the record change (never by comparing the holder's timestamps with
 * ours: clocks differ between nodes). Writes carry the resourceVersion read, so two candidates
 * cannot both win.
 *
 * Safety: a renewal counts from when its write was *sent* (the renewTime it carries), not from
 * when the answer came. lease_may_write() is true only while now < renewed + renew deadline; no
 * write to the cluster may start after that. At that instant the leader has lost: the caller
 * abandons every call in flight and stops (controller-runtime exits too), since another replica may
 * take over once the lease duration has passed on its clock.
 *
 * States: LEASE_CANDIDATE, LEASE_LEADER, LEASE_LOST; the call in flight is `op`.
 */
#ifndef PZ_LEASE_H
#define PZ_LEASE_H

#include "json.h"
#include "kube.h"

#include <stdint.h>

#define LEASE_IDENTITY_MAX 128
#define LEASE_BODY_MAX 1024
/* A Lease read back: ~600 bytes, plus managedFields (~400 bytes per writer; dropped before parsing). */
#define LEASE_RESP_MAX 4096
#define LEASE_TOKENS 128

enum lease_state { LEASE_CANDIDATE, LEASE_LEADER, LEASE_LOST };
enum lease_op { LEASE_OP_NONE, LEASE_OP_GET, LEASE_OP_CREATE, LEASE_OP_UPDATE, LEASE_OP_RELEASE };
/* What a read Lease means for us (lease_decide). */
enum lease_verdict { LEASE_WAIT, LEASE_TAKE, LEASE_RENEW, LEASE_YIELD };

struct lease_config {
	const char *namespace;
	const char *name;
	int64_t duration_ms;       /* 15 s, as controller-runtime */
	int64_t renew_deadline_ms; /* 10 s */
	int64_t retry_ms;          /* 2 s */
};

struct lease {
	enum lease_state state;
	enum lease_op op;
	struct lease_config cfg;
	char identity[LEASE_IDENTITY_MAX];
	char path[256];            /* the Lease's URL path */
	uint32_t seen_digest;      /* holder + renewTime as last read */
	int64_t seen_ms;           /* when that record was first seen (our monotonic clock) */
	int64_t renewed_ms;        /* when the last successful write was sent, while leader */
	int64_t write_ms;          /* when the write in flight was sent */
	int64_t next_ms;           /* next attempt */
	int64_t lost_ms;           /* when leadership was lost (for the log) */
	int transitions;
	int last_error;
	int last_status;
	char holder[LEASE_IDENTITY_MAX]; /* current holder as last read, for the log */
	struct kube_link link;
	char body[LEASE_BODY_MAX];
	char resp[LEASE_RESP_MAX];
	jsmntok_t tok[LEASE_TOKENS];
};

/* identity: unique per process (client-go: hostname + "_" + uuid). */
void lease_init(struct lease *l, const struct lease_config *cfg, const char *identity);

/* The rule, without I/O: what to do given the Lease as read (exists, holder) after lease_observe
 * recorded it, at time now. */
enum lease_verdict lease_decide(const struct lease *l, int exists, const char *holder, int64_t now);
/* Records a read of the Lease: the record (holder, renewTime) is "seen" from the first time it
 * appears unchanged on our clock. */
void lease_observe(struct lease *l, const char *holder, const char *renew_time, int64_t now);

/* Drives the election: starts a read when due, carries reads and writes forward, and declares the
 * lease lost the moment the renew deadline passes. Returns 1 when the state changed (became leader,
 * or lost), 0 otherwise, or a negative code for a failed attempt (logged by the caller; the state
 * machine already accounts for it). */
int lease_step(struct lease *l, struct kube_api *api, int64_t now);

/* 1 while a write to the cluster may start: leader, and the renew deadline not reached. */
int lease_may_write(const struct lease *l, int64_t now);

/* Starts giving the Lease up (holder emptied) so a standby takes over at once. The caller drives
 * lease_step until lease_releasing() is 0 or its own deadline passes. */
void lease_release_start(struct lease *l, struct kube_api *api, int64_t now);
static inline int lease_releasing(const struct lease *l) { return l->op == LEASE_OP_RELEASE; }

/* For the loop. */
int lease_fd(const struct lease *l);
short lease_events(struct lease *l);
int64_t lease_deadline(const struct lease *l);

#endif
