/*
 * fuzz_response.c - what comes back from the agent, and the output that
 * goes to it, through the library's public functions.
 *
 * Input: "STATUS\nCURLCODE\nBODY" (the numbers as text, so seeds read as
 * what they are).  Properties:
 *   - consul_classify keeps its contract (consul.h) for any status, code
 *     and body: a transport failure is never OK, only 200 is OK, GONE is
 *     only ever 404 or 500, and every outcome has a name;
 *   - a body the agent's GET endpoints could send (JSON objects of
 *     services or checks) parses, re-serialises to the same value, and any
 *     "Status" in it round-trips through consul_status_parse / _name;
 *   - the body, used as check output, notes and check ID, builds requests:
 *     the JSON bodies read back (invalid UTF-8 replaced, valid UTF-8 kept
 *     exactly) and the escaped ID decodes to the ID and holds no character
 *     that would change the URL;
 *   - consul_call_finish on such a call always leaves a body and the
 *     outcome consul_classify gives.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ostiary/consul.h"

static consul_client *client;

static void
check_classify(CURLcode code, long status, const char *body)
{
	enum consul_outcome outcome = consul_classify(code, status, body);

	FUZZ_ASSERT(strcmp(consul_outcome_name(outcome), "unknown") != 0, "outcome %d",
	            (int)outcome);
	FUZZ_ASSERT(code == CURLE_OK || outcome == CONSUL_UNREACHABLE ||
	                    outcome == CONSUL_BAD_RESPONSE,
	            "code %d gave %s", (int)code, consul_outcome_name(outcome));
	FUZZ_ASSERT((outcome == CONSUL_OK) == (code == CURLE_OK && status == 200),
	            "status %ld code %d gave %s", status, (int)code, consul_outcome_name(outcome));
	FUZZ_ASSERT(outcome != CONSUL_GONE || status == 404 || status == 500,
	            "status %ld is not gone", status);
}

/* GET agent/checks: {"id": {"Status": "passing", ...}, ...}. */
static void
check_statuses(json_t *root)
{
	const char *key;
	json_t *entry;

	json_object_foreach(root, key, entry)
	{
		const char *name = json_string_value(json_object_get(entry, "Status"));
		enum consul_status status;

		if (name != NULL && consul_status_parse(name, &status) == 0)
			FUZZ_ASSERT(strcmp(consul_status_name(status), name) == 0,
			            "status \"%s\" reads back as \"%s\"", name,
			            consul_status_name(status));
	}
}

static void
check_body_json(const char *body)
{
	json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, NULL), *back;
	char *text;

	if (root == NULL)
		return;
	text = json_dumps(root, JSON_COMPACT);
	FUZZ_ASSERT(text != NULL, "a parsed body does not serialise");
	back = json_loads(text, 0, NULL);
	FUZZ_ASSERT(back != NULL && json_equal(root, back), "body does not read back: %s", text);
	if (json_is_object(root))
		check_statuses(root);
	json_decref(back);
	free(text);
	json_decref(root);
}

/* Notes as the registration body carries them. */
static void
check_notes(const char *text)
{
	consul_check_def check = { .id = "c", .name = "c", .notes = text, .ttl_ms = 10000 };
	json_t *body = consul_check_def_to_json(&check), *back;
	const char *notes;
	char *dumped;
	json_t *exact = json_string(text); /* NULL when text is not valid UTF-8 */

	FUZZ_ASSERT(body != NULL, "no check body");
	dumped = json_dumps(body, JSON_COMPACT);
	back = dumped ? json_loads(dumped, 0, NULL) : NULL;
	FUZZ_ASSERT(back != NULL, "check body does not read back: %s", dumped ? dumped : "");
	notes = json_string_value(json_object_get(back, "Notes"));
	FUZZ_ASSERT(*text == '\0' || notes != NULL, "Notes lost");
	FUZZ_ASSERT(exact == NULL || *text == '\0' || strcmp(notes, text) == 0,
	            "valid UTF-8 notes changed");
	json_decref(exact);
	json_decref(back);
	free(dumped);
	json_decref(body);
}

static int
hex_value(char c)
{
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : c - '0';
}

/* Only unreserved characters and %XX, decoding back to the ID. */
static void
check_escape(const char *id)
{
	char *escaped = consul_path_escape(id);
	size_t n = 0;

	FUZZ_ASSERT(escaped != NULL, "no escape");
	FUZZ_ASSERT(strspn(escaped, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                            "0123456789-._~%") == strlen(escaped),
	            "\"%s\" holds a reserved character", escaped);
	for (const char *p = escaped; *p; n++) {
		char c = *p == '%' ? (char)(hex_value(p[1]) << 4 | hex_value(p[2])) : *p;

		FUZZ_ASSERT(id[n] == c, "\"%s\" decodes to something else at %zu", escaped, n);
		p += *p == '%' ? 3 : 1;
	}
	FUZZ_ASSERT(id[n] == '\0', "\"%s\" decodes to a prefix", escaped);
	free(escaped);
}

/* A push whose output and check ID are the body, finished unrun. */
static void
check_call(const char *body, CURLcode code, enum consul_status status)
{
	consul_call *call = consul_check_update_call(client, body, status, body);
	const consul_response *response;

	FUZZ_ASSERT(call != NULL || *body == '\0', "no call for check \"%s\"", body);
	if (call == NULL)
		return;
	FUZZ_ASSERT(consul_call_describe(call) != NULL, "no description");
	response = consul_call_finish(call, code);
	FUZZ_ASSERT(response->body != NULL, "finished without a body");
	FUZZ_ASSERT(response->outcome == consul_classify(code, 0, ""), "finish disagrees");
	consul_call_free(call);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	consul_config cfg;

	consul_config_init(&cfg);
	client = consul_client_new(&cfg, NULL);
	consul_config_free(&cfg);
	if (client == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *lines[3] = { NULL, NULL, NULL };
	size_t n = fuzz_lines(data, size, lines, 3);
	long status = strtol(lines[0], NULL, 10);
	long raw = n > 1 ? strtol(lines[1], NULL, 10) : 0;
	CURLcode code = (CURLcode)((unsigned long)raw % CURL_LAST);
	const char *body = n > 2 ? lines[2] : "";

	check_classify(code, status, body);
	check_body_json(body);
	check_notes(body);
	check_escape(body);
	check_call(body, code, (enum consul_status)((unsigned long)raw % 3));
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	return 0;
}
