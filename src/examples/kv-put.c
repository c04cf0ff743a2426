/* kv-put KEY VALUE: writes the value; exit status 0 when the agent took it. */
#include <stdio.h>
#include <string.h>

#include "example.h"

int
main(int argc, char **argv)
{
	struct example ex;
	int i = example_init(&ex, argc, argv, "KEY VALUE");
	const consul_response *r;
	consul_error err = { 0 };
	consul_call *call;
	bool ok = false;

	if (i + 2 != argc) {
		fprintf(stderr, "usage: %s [-a ADDR] KEY VALUE\n", argv[0]);
		return 2;
	}
	call = consul_kv_put_call(ex.client, argv[i], argv[i + 1], strlen(argv[i + 1]), NULL);
	if (!call) {
		fprintf(stderr, "kv-put: invalid key %s\n", argv[i]);
		return 2;
	}
	r = example_perform(&ex, call);
	if (!r) { /* interrupted */
		consul_call_free(call);
		example_free(&ex);
		return 0;
	}
	if (consul_bool_parse(r, &ok, &err) < 0)
		fprintf(stderr, "kv-put: %s: %s\n", consul_call_describe(call), err.text);
	consul_call_free(call);
	example_free(&ex);
	return ok ? 0 : 1;
}
