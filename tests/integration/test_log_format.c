/* --log-format: the real binary's every line parses in the format asked. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* A name with a quote, a backslash, a space, an '=' and a control byte. */
#define HOSTILE_NAME "we\"b\\ x=\x01"

/* Run one service that registers, passes, exits and deregisters; return
 * ostiary's whole output. */
static char *
run_once(const char *format)
{
	sim s;
	proc p;
	const char *args[] = { "-v", "--log-format", format, HOSTILE_NAME, "--", "true", NULL };
	char *out;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	out = proc_output(&p);
	proc_kill(&p);
	sim_stop(&s);
	cr_assert_not_null(out);
	return out;
}

/* Call fn on each line (without its newline); return the number of lines. */
static int
each_line(char *out, void (*fn)(const char *line))
{
	int n = 0;

	for (char *p = out, *nl; *p != '\0'; p = nl + 1, n++) {
		nl = strchr(p, '\n');
		cr_assert_not_null(nl, "an unterminated line: %s", p);
		*nl = '\0';
		fn(p);
	}
	return n;
}

static int deregistered; /* lines naming the hostile service */

static void
check_json(const char *line)
{
	json_error_t jerr;
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	const char *msg;

	cr_assert_not_null(o, "not JSON (%s): %s", jerr.text, line);
	cr_assert(json_is_string(json_object_get(o, "time")), "%s", line);
	cr_assert(json_is_string(json_object_get(o, "level")), "%s", line);
	msg = json_string_value(json_object_get(o, "msg"));
	cr_assert_not_null(msg, "%s", line);
	deregistered += strstr(msg, "deregistered service " HOSTILE_NAME) != NULL;
	json_decref(o);
}

Test(log_format, json_every_line_parses)
{
	char *out = run_once("json");

	deregistered = 0;
	cr_assert_geq(each_line(out, check_json), 3);
	cr_assert_geq(deregistered, 1, "the name comes back intact from the JSON");
	free(out);
}

/* logfmt: key=value pairs; values bare or quoted with backslash escapes. */
static void
check_logfmt(const char *line)
{
	const char *p = line;
	int keys = 0;
	bool has_msg = false;

	while (*p != '\0') {
		const char *eq = strchr(p, '=');

		cr_assert(keys == 0 || *p++ == ' ', "%s", line);
		eq = strchr(p, '=');
		cr_assert_not_null(eq, "%s", line);
		cr_assert_null(memchr(p, ' ', (size_t)(eq - p)), "a key with a space: %s", line);
		has_msg = has_msg || (eq - p == 3 && strncmp(p, "msg", 3) == 0);
		p = eq + 1;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				cr_assert(*p != '\0' && (unsigned char)*p >= 0x20, "%s", line);
				if (*p == '\\')
					cr_assert_not_null(strchr("\"\\nrtx", *++p), "%s", line);
			}
			p++;
		} else {
			for (; *p != ' ' && *p != '\0'; p++)
				cr_assert(*p != '"' && *p != '=' && *p != '\\' &&
				                  (unsigned char)*p > 0x20,
				          "%s", line);
		}
		keys++;
	}
	cr_assert(keys >= 3 && has_msg, "%s", line);
	cr_assert(strncmp(line, "time=", 5) == 0, "%s", line);
	deregistered += strstr(line, "msg=\"deregistered service we\\\"b\\\\ x=\\x01") != NULL;
}

Test(log_format, logfmt_every_line_parses)
{
	char *out = run_once("logfmt");

	deregistered = 0;
	cr_assert_geq(each_line(out, check_logfmt), 3);
	cr_assert_geq(deregistered, 1, "the name, escaped, in a quoted msg");
	free(out);
}
