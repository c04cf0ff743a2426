/* fdlimit.c - the descriptor limit (see fdlimit.h). */
#include "fdlimit.h"

#include <stdio.h>

#include "agent.h"
#include "log.h"

static struct rlimit fdlimit_original;
static bool fdlimit_changed;

void
fdlimit_estimate(const struct conf *conf, struct fdlimit_need *need)
{
	*need = (struct fdlimit_need){ .agent = AGENT_DEFAULT_MAX_INFLIGHT + 1 };
	for (size_t s = 0; s < conf->nservices; s++) {
		const struct service_conf *svc = &conf->services[s];

		for (size_t c = 0; c < svc->nchecks; c++) {
			enum probe_kind kind = svc->checks[c].kind;

			need->tcp += kind == PROBE_TCP;
			need->http += kind == PROBE_HTTP;
			need->exec += kind == PROBE_EXEC;
		}
	}
	need->total = FDLIMIT_BASE + need->agent + need->tcp * FDLIMIT_PER_TCP +
	              need->http * FDLIMIT_PER_HTTP + need->exec * FDLIMIT_PER_EXEC;
}

void
fdlimit_raise(rlim_t *limit)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		*limit = RLIM_INFINITY;
		return;
	}
	fdlimit_original = rl;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = { rl.rlim_max, rl.rlim_max };

		/* Linux refuses an infinite NOFILE: then the soft one stays. */
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
			rl.rlim_cur = rl.rlim_max;
			fdlimit_changed = true;
		}
	}
	*limit = rl.rlim_cur;
}

bool
fdlimit_describe(const struct fdlimit_need *need, rlim_t limit, char *buf, size_t size)
{
	if (limit == RLIM_INFINITY || need->total <= limit)
		return false;
	snprintf(buf, size,
	         "the checks may need up to %lu file descriptors but the limit is %llu "
	         "(RLIMIT_NOFILE, soft raised to hard): %d base + %lu agent + %zu tcp x %d + "
	         "%zu http x %d + %zu exec x %d; probes past the limit will fail with \"Too "
	         "many open files\" (raise it: ulimit -n, systemd LimitNOFILE=, docker "
	         "--ulimit nofile=)",
	         need->total, (unsigned long long)limit, FDLIMIT_BASE, need->agent, need->tcp,
	         FDLIMIT_PER_TCP, need->http, FDLIMIT_PER_HTTP, need->exec, FDLIMIT_PER_EXEC);
	return true;
}

void
fdlimit_check(const struct conf *conf)
{
	struct fdlimit_need need;
	char text[512];
	rlim_t limit;

	fdlimit_raise(&limit);
	fdlimit_estimate(conf, &need);
	if (fdlimit_describe(&need, limit, text, sizeof(text)))
		log_warnx("%s", text);
}

void
fdlimit_restore_for_child(void)
{
	if (fdlimit_changed)
		(void)setrlimit(RLIMIT_NOFILE, &fdlimit_original);
}
