/*
 * test_execcred.c - exec credential plugins (src/execcred.h): the ExecCredential reader, and real
 * runs of small shell scripts: deadline (the whole process group killed), output bound, exit
 * status, stderr kept and redacted, environment and arguments passed.
 */
#include "check.h"
#include "harness.h"
#include "execcred.h"
#include "pz.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct execcred_plugin p;
static struct execcred_result r;
static char dir[64];

static int parse(int v1, const char *json)
{
	p.v1 = v1;
	memset(&r, 0, sizeof r);
	return execcred_parse(&p, json, strlen(json), &r);
}

static void test_parse(void)
{
	CHECK_EQ_INT(parse(1, "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		"\"spec\":{\"interactive\":false},\"status\":{\"token\":\"abc.def\",\"expirationTimestamp\":\"2030-01-01T00:00:00Z\"}}"), 0);
	CHECK_EQ_STR(r.token, "abc.def");
	CHECK_EQ_INT(r.expiry_s, 1893456000);
	CHECK_EQ_INT(parse(0, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
		"\"status\":{\"token\":\"t\",\"expirationTimestamp\":null}}"), 0);
	CHECK_EQ_INT(r.expiry_s, 0);
	CHECK_EQ_INT(parse(0, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
		"\"status\":{\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\nAA==\\n\",\"clientKeyData\":\"k\"}}"), 0);
	CHECK_EQ_INT(r.cert_len, 33);
	CHECK_EQ_INT(r.key_len, 1);
	/* refused */
	CHECK(parse(1, "") < 0);
	CHECK(parse(1, "not json") < 0);
	CHECK(parse(1, "[]") < 0);
	CHECK(parse(1, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"status\":{\"token\":\"t\"}}") < 0);
	CHECK(strstr(r.err, "apiVersion") != NULL);
	CHECK(parse(1, "{\"kind\":\"Secret\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"t\"}}") < 0);
	CHECK(parse(1, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\"}") < 0);
	CHECK(parse(1, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"\"}}") < 0);
	CHECK(parse(1, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"a b\"}}") < 0);
	CHECK_EQ_STR(r.token, ""); /* a refused token is wiped */
	CHECK(parse(1, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"a\\u0000b\"}}") < 0);
	CHECK(parse(1, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"clientKeyData\":\"k\"}}") < 0);
	CHECK(parse(1, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"t\",\"expirationTimestamp\":5}}") < 0);
	/* a token one byte too long for the field */
	{
		static char json[KUBE_TOKEN_MAX + 200];
		int o = snprintf(json, sizeof json, "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"");
		memset(json + o, 'a', KUBE_TOKEN_MAX);
		strcpy(json + o + KUBE_TOKEN_MAX, "\"}}");
		CHECK_EQ_INT(parse(1, json), PZ_ETOOBIG);
		json[o + KUBE_TOKEN_MAX - 1] = 0;
		strcat(json, "\"}}");
		CHECK_EQ_INT(parse(1, json), 0);
		CHECK_EQ_INT(strlen(r.token), KUBE_TOKEN_MAX - 1);
	}
}

static void script(const char *body)
{
	char path[128], text[2048];
	FILE *f;
	snprintf(path, sizeof path, "%s/plugin", dir);
	snprintf(text, sizeof text, "#!/bin/sh\n%s", body);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, 0700);
	memset(&p, 0, sizeof p);
	p.v1 = 1;
	p.argv[0] = execcred_keep(&p, path);
	p.argv[1] = execcred_keep(&p, "--flag");
	p.argv[2] = NULL;
	p.argc = 2;
	p.env_name[0] = execcred_keep(&p, "PLUGIN_X");
	p.env_value[0] = execcred_keep(&p, "value-x");
	p.nenv = 1;
	snprintf(p.info, sizeof p.info, "{\"kind\":\"ExecCredential\"}");
	memset(&r, 0, sizeof r);
}

#define OK_OUT "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' "

static void test_run(void)
{
	int64_t t0;

	script(OK_OUT "\"$1-$PLUGIN_X-$(printf %s \"$KUBERNETES_EXEC_INFO\" | wc -c)\"\n"
		"echo 'warn: token tok-1234567890abcdefXYZ' >&2\n");
	CHECK_EQ_INT(execcred_run(&p, &r), 0);
	CHECK_EQ_STR(r.token, "--flag-value-x-25");
	CHECK_EQ_STR(r.stderr_text, "warn: token [redacted] ");

	script("exit 3\n");
	CHECK_EQ_INT(execcred_run(&p, &r), PZ_ECONFIG);
	CHECK(strstr(r.err, "status 3") != NULL);

	script("cat /dev/zero\n");
	CHECK_EQ_INT(execcred_run(&p, &r), PZ_ETOOBIG);
	CHECK(strstr(r.err, "more than") != NULL);

	/* stdin is /dev/null: a plugin that prompts gets end-of-file, not a hang */
	script("read x; echo \"[$x]\" >&2; exit 2\n");
	CHECK_EQ_INT(execcred_run(&p, &r), PZ_ECONFIG);
	CHECK_EQ_STR(r.stderr_text, "[] ");

	/* the deadline kills the whole group: the script's own child too */
	script("sleep 60 & echo $! > \"$(dirname \"$0\")/child\"; wait\n");
	t0 = pz_now_ms();
	CHECK_EQ_INT(execcred_run(&p, &r), -ETIMEDOUT);
	CHECK(pz_now_ms() - t0 >= EXECCRED_TIMEOUT_MS - 100 && pz_now_ms() - t0 < EXECCRED_TIMEOUT_MS + 3000);
	{
		char path[128];
		FILE *f;
		int child = 0;
		snprintf(path, sizeof path, "%s/child", dir);
		f = fopen(path, "r");
		CHECK(f && fscanf(f, "%d", &child) == 1);
		if (f)
			fclose(f);
		usleep(200000);
		/* gone, or a zombie left for an init that does not reap (in a container) */
		snprintf(path, sizeof path, "/proc/%d/stat", child);
		f = fopen(path, "r");
		char st[256] = "";
		if (f) {
			if (!fgets(st, sizeof st, f))
				st[0] = 0;
			fclose(f);
		}
		CHECK(child > 0 && (!f || strstr(st, ") Z ") != NULL));
		if (f && !strstr(st, ") Z "))
			fprintf(stderr, "  the plugin's child survived: %s\n", st);
	}

	memset(&p, 0, sizeof p);
	p.argv[0] = execcred_keep(&p, "/nonexistent/plugin");
	p.argc = 1;
	CHECK_EQ_INT(execcred_run(&p, &r), PZ_ECONFIG);
	CHECK(strstr(r.err, "cannot be started") != NULL);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/pz-execcred-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	run("ExecCredential parse", test_parse);
	run("plugin runs", test_run);
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return check_done("execcred");
}
