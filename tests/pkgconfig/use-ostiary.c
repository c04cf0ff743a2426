/*
 * A program outside the tree, built by tests/check-pkgconfig.sh against the
 * installed header and library with only `pkg-config --cflags --libs
 * ostiary`.  It uses libcurl (a call's easy handle) and jansson (a
 * registration body) through libostiary, so a link without the library's
 * Requires fails.  Prints "<header version> <library version>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ostiary/consul.h>

#if !defined(OSTIARY_VERSION_HEX) || OSTIARY_VERSION_HEX < 0x000100
#error "OSTIARY_VERSION_HEX missing or older than 0.1.0"
#endif

static int
use_library(void)
{
	consul_service svc = { .id = "pc-test", .name = "pc-test" };
	consul_config cfg;
	consul_client *client;
	consul_call *call;
	json_t *body;
	char *text;
	int rc = 1;

	consul_config_init(&cfg);
	client = consul_client_new(&cfg, NULL);
	call = client ? consul_service_register_call(client, &svc, 0) : NULL;
	body = consul_service_to_json(&svc);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (call && consul_call_easy(call) && text && strstr(text, "\"Name\":\"pc-test\""))
		rc = 0;
	free(text);
	json_decref(body);
	consul_call_free(call);
	consul_client_free(client);
	consul_config_free(&cfg);
	return rc;
}

int
main(void)
{
	if (use_library() != 0) {
		fprintf(stderr, "use-ostiary: the library did not work\n");
		return 1;
	}
	printf("%s %s\n", OSTIARY_VERSION, consul_library_version());
	return 0;
}
