/* "Supervise exactly": one event is one line, hostile files are refused at
 * once, errors name what is wrong. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* Number of lines of out that are exactly line. */
static int
count_lines(const char *out, const char *line)
{
	size_t len = strlen(line);
	int n = 0;

	for (const char *p = out; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t l = nl != NULL ? (size_t)(nl - p) : strlen(p);

		n += l == len && strncmp(p, line, len) == 0;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

Test(exact, a_service_name_cannot_forge_a_log_line)
{
	sim s;
	proc p;
	const char *args[] = { "web\r\nostiary: deregistered service web", "--", "true", NULL };
	char *out;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	out = proc_output(&p);
	cr_assert(strstr(out, "web\\r\\nostiary: deregistered service web") != NULL, "%s", out);
	cr_assert_eq(count_lines(out, "ostiary: deregistered service web"), 0, "forged: %s", out);
	cr_assert_null(strchr(out, '\r'), "%s", out);
	proc_kill(&p);
	sim_stop(&s);
}
