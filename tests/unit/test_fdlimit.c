/* The descriptor estimate and its warning. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/resource.h>

#include "fdlimit.h"

static struct conf conf;

static void
fini(void)
{
	conf_free(&conf);
}

TestSuite(fdlimit, .fini = fini);

static void
add_checks(struct service_conf *svc, enum probe_kind kind, int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_not_null(conf_add_check(svc, kind));
}

Test(fdlimit, estimate_counts_each_probe_kind)
{
	struct fdlimit_need need;
	struct service_conf *svc;

	conf_init(&conf);
	svc = conf_add_service(&conf);
	add_checks(svc, PROBE_TCP, 2000);
	add_checks(svc, PROBE_HTTP, 10);
	add_checks(svc, PROBE_EXEC, 5);
	add_checks(svc, PROBE_PROCESS, 1);
	fdlimit_estimate(&conf, &need);
	cr_assert_eq(need.tcp, 2000);
	cr_assert_eq(need.http, 10);
	cr_assert_eq(need.exec, 5);
	cr_assert_eq(need.total, FDLIMIT_BASE + need.agent + 2000 * FDLIMIT_PER_TCP +
	                                 10 * FDLIMIT_PER_HTTP + 5 * FDLIMIT_PER_EXEC);
}

Test(fdlimit, warning_only_past_the_limit_with_the_numbers)
{
	struct fdlimit_need need = { .tcp = 2000, .agent = 17, .total = 2033 };
	char text[512];

	cr_assert_not(fdlimit_describe(&need, 4096, text, sizeof(text)));
	cr_assert_not(fdlimit_describe(&need, RLIM_INFINITY, text, sizeof(text)));
	cr_assert(fdlimit_describe(&need, 256, text, sizeof(text)));
	cr_assert(strstr(text, "up to 2033 file descriptors but the limit is 256") != NULL, "%s",
	          text);
	cr_assert(strstr(text, "2000 tcp x 1") != NULL, "%s", text);
}

Test(fdlimit, soft_limit_is_raised_to_the_hard_one)
{
	struct rlimit rl, low;
	rlim_t limit;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max < 64)
		cr_skip_test("hard limit %llu", (unsigned long long)rl.rlim_max);
	low = (struct rlimit){ 32, rl.rlim_max };
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	fdlimit_raise(&limit);
	cr_assert_eq(limit, rl.rlim_max);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &low), 0);
	cr_assert_eq(low.rlim_cur, rl.rlim_max);
	/* A child gets the soft limit back. */
	fdlimit_restore_for_child();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &low), 0);
	cr_assert_eq(low.rlim_cur, 32);
	setrlimit(RLIMIT_NOFILE, &rl);
}
