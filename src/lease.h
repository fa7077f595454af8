/*
 * lease.h - leader election on a coordination.k8s.io/v1 Lease, with client-go's rules.
 *
 * A candidate reads the Lease every retry period. It takes the Lease when there is none, when it
 * already holds it, or when the holder has not renewed it for the lease duration as measured on
 * OUR clock since we last saw the record change (never by comparing the holder's timestamps with
 * ours: clocks differ between nodes). Writes carry the resourceVersion read, so two candidates
 * cannot both win. A leader that cannot renew within the renew deadline has lost: the caller
 * stops (controller-runtime exits too), since another replica may already be reconciling.
 *
 * States: LEASE_CANDIDATE (waiting to acquire), LEASE_LEADER, LEASE_LOST. One step per call, every
 * call synchronous on the caller's link with KUBE_CALL_TIMEOUT_MS.
 */
#ifndef PZ_LEASE_H
#define PZ_LEASE_H

#include "json.h"
#include "kube.h"

#include <stdint.h>

#define LEASE_IDENTITY_MAX 128
#define LEASE_BODY_MAX 1024

enum lease_state { LEASE_CANDIDATE, LEASE_LEADER, LEASE_LOST };

struct lease_config {
	const char *namespace;
	const char *name;
	int64_t duration_ms;       /* 15 s, as controller-runtime */
	int64_t renew_deadline_ms; /* 10 s */
	int64_t retry_ms;          /* 2 s */
};

struct lease {
	enum lease_state state;
	struct lease_config cfg;
	char identity[LEASE_IDENTITY_MAX];
	char path[256];            /* the Lease's URL path */
	char body[LEASE_BODY_MAX];
	uint32_t seen_digest;      /* holder + renewTime as last read */
	int64_t seen_ms;           /* when that record was first seen (our monotonic clock) */
	int64_t renewed_ms;        /* last successful renewal while leader */
	int64_t next_ms;           /* next attempt */
	int transitions;
	int last_error;
	int last_status;
	char holder[LEASE_IDENTITY_MAX]; /* current holder as last read, for the log */
};

/* identity: unique per process (client-go: hostname + "_" + uuid). */
void lease_init(struct lease *l, const struct lease_config *cfg, const char *identity);

/* Tries to acquire or renew when due. Returns 1 when the state changed (became leader, or lost),
 * 0 otherwise, or a negative code for a failed attempt (logged by the caller; the state machine
 * already accounts for it). resp/tok: scratch for the response, as the reconciler's. */
int lease_step(struct lease *l, struct kube_api *api, struct kube_link *link, char *resp, size_t resp_cap,
	jsmntok_t *tok, unsigned ntok, int64_t now);

/* Gives the Lease up (holder emptied) so a standby takes over at once; best effort, at shutdown. */
void lease_release(struct lease *l, struct kube_api *api, struct kube_link *link, char *resp, size_t cap);

static inline int64_t lease_deadline(const struct lease *l) { return l->next_ms; }

#endif
