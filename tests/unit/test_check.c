/* Flap damping, checked against Consul's rules (agent/checks/check.go
 * StatusHandler). */
#include <criterion/criterion.h>
#include <string.h>

#include "check.h"

#define P CONSUL_PASSING
#define W CONSUL_WARNING
#define C CONSUL_CRITICAL
#define HOLD (-1) /* nothing reported */

struct threshold_case {
	const char *what;
	int success_before_passing, failures_before_warning, failures_before_critical;
	int results[12];  /* terminated by -2 */
	int reported[12]; /* what each result reports, or HOLD */
};

static const struct threshold_case cases[] = {
	{ "no thresholds: every result is reported as it is",
	  0,
	  0,
	  0,
	  { P, C, W, P, -2 },
	  { P, C, W, P } },
	{ "first result applies at once (counters start at their thresholds)",
	  2,
	  0,
	  3,
	  { C, -2 },
	  { C } },
	{ "first passing result applies at once too", 3, 0, 3, { P, -2 }, { P } },
	{ "success_before_passing: 3 passes needed after a failure",
	  3,
	  0,
	  0,
	  { C, P, P, P, P, -2 },
	  { C, HOLD, HOLD, P, P } },
	{ "a failure resets the success count",
	  2,
	  0,
	  0,
	  { C, P, C, P, P, -2 },
	  { C, HOLD, C, HOLD, P } },
	{ "warning counts as success", 2, 0, 0, { C, W, W, -2 }, { C, HOLD, W } },
	{ "failures_before_critical: 3 failures needed after a pass",
	  0,
	  0,
	  3,
	  { P, C, C, C, C, -2 },
	  { P, HOLD, HOLD, C, C } },
	{ "a pass resets the failure count",
	  0,
	  0,
	  2,
	  { P, C, P, C, C, -2 },
	  { P, HOLD, P, HOLD, C } },
	{ "failures_before_warning reports warning first",
	  0,
	  1,
	  3,
	  { P, C, C, C, C, -2 },
	  { P, W, W, C, C } },
	{ "warning threshold 0 means the critical one", 0, 0, 2, { P, C, C, -2 }, { P, HOLD, C } },
	{ "both thresholds", 2, 2, 4, { P, C, C, C, C, P, P, -2 }, { P, HOLD, W, W, C, HOLD, P } },
};

Test(check, thresholds_follow_consul_status_handler)
{
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct threshold_case *tc = &cases[k];
		struct check_threshold t;

		check_threshold_init(&t, tc->success_before_passing, tc->failures_before_warning,
		                     tc->failures_before_critical);
		for (int i = 0; tc->results[i] != -2; i++) {
			enum consul_status report = (enum consul_status)99;
			bool reported = check_threshold_apply(
			        &t, (enum consul_status)tc->results[i], &report);
			if (tc->reported[i] == HOLD)
				cr_expect_not(reported, "%s: result %d should be held back",
				              tc->what, i);
			else
				cr_expect(reported && (int)report == tc->reported[i],
				          "%s: result %d reported %s, expected %s", tc->what, i,
				          reported ? consul_status_name(report) : "nothing",
				          consul_status_name((enum consul_status)tc->reported[i]));
		}
	}
}
