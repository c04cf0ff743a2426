/*
 * ttl-pass CHECK_ID [NOTE]: tell the local agent a TTL check is passing:
 * the README's library example, whole.  The agent is found the way
 * Consul's own tools find it (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN[_FILE],
 * CONSUL_CACERT, ...).  Exit status 0 when the agent took it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ostiary/consul.h>

static const char *
process_getenv(const char *name)
{
	return getenv(name);
}

int
main(int argc, char **argv)
{
	consul_config cfg;
	consul_error err = { 0 };
	consul_client *client;
	consul_call *call;
	const consul_response *r;
	int code;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s CHECK_ID [NOTE]\n", argv[0]);
		return 2;
	}
	consul_config_init(&cfg);
	if (consul_config_from_env(&cfg, process_getenv, NULL, NULL, &err) < 0 ||
	    (client = consul_client_new(&cfg, &err)) == NULL) {
		fprintf(stderr, "ttl-pass: %s: %s\n", err.source, err.text);
		consul_config_free(&cfg);
		return 2;
	}
	consul_config_free(&cfg); /* the client keeps its own copy */
	call = consul_check_ttl_call(client, argv[1], CONSUL_PASSING, argc > 2 ? argv[2] : NULL);
	r = call ? consul_call_perform(call) : NULL;
	if (r != NULL && r->outcome == CONSUL_OK) {
		printf("%s: passing\n", argv[1]);
		code = 0;
	} else {
		fprintf(stderr, "ttl-pass: %s: %s\n", call ? consul_call_describe(call) : argv[1],
		        r == NULL   ? "cannot build the request"
		        : r->status ? r->body
		                    : r->error);
		code = 1;
	}
	consul_call_free(call);
	consul_client_free(client);
	return code;
}
