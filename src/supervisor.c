/* supervisor.c - child lifecycle and shutdown state machine (see supervisor.h). */
#include "supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "log.h"
#include "sig.h"

enum sup_state {
	SUP_SAME = 0, /* table filler: "no transition" */
	SUP_RUNNING,
	SUP_DRAINING, /* terminating signal received; deregistering before signalling */
	SUP_STOPPING, /* child signalled; kill timer armed */
	SUP_KILLING,  /* SIGKILL sent */
	SUP_EXITING,  /* child gone; deregistering */
	SUP_DONE,
	SUP_NSTATES
};

enum sup_event {
	SUP_EV_TERMINATE, /* TERM, INT or QUIT arrived */
	SUP_EV_CHILD_EXITED,
	SUP_EV_DEREGISTERED, /* the agent session finished its shutdown */
	SUP_EV_KILL_TIMEOUT,
	SUP_NEVENTS
};

struct supervisor {
	ev_loop *loop;
	struct agent *agent;
	struct checks *checks;
	struct child *child;
	struct supervisor_settings settings;
	enum sup_state state;
	int stop_signal; /* the terminating signal to pass on */
	ev_timer kill_timer;
	ev_io signal_io;
	ev_child child_watcher;
};

typedef void (*sup_action)(struct supervisor *sup);

static void sup_deregister(struct supervisor *sup);
static void sup_stop_child(struct supervisor *sup);
static void sup_signal_again(struct supervisor *sup);
static void sup_kill_child(struct supervisor *sup);
static void sup_finish(struct supervisor *sup);

static const char *const sup_state_names[SUP_NSTATES] = {
	[SUP_SAME] = "same",         [SUP_RUNNING] = "running", [SUP_DRAINING] = "draining",
	[SUP_STOPPING] = "stopping", [SUP_KILLING] = "killing", [SUP_EXITING] = "exiting",
	[SUP_DONE] = "done",
};

/* The whole shutdown logic. Pairs not listed are ignored. */
static const struct sup_transition {
	enum sup_state next;
	sup_action action;
} sup_table[SUP_NSTATES][SUP_NEVENTS] = {
	[SUP_RUNNING] = {
		[SUP_EV_TERMINATE] = { SUP_DRAINING, sup_deregister },
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
	},
	[SUP_DRAINING] = {
		[SUP_EV_DEREGISTERED] = { SUP_STOPPING, sup_stop_child },
		/* Asked twice: the operator will not wait for the agent. */
		[SUP_EV_TERMINATE] = { SUP_STOPPING, sup_stop_child },
		/* Deregistration is already under way: wait for it. */
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, NULL },
	},
	[SUP_STOPPING] = {
		[SUP_EV_TERMINATE] = { SUP_STOPPING, sup_signal_again },
		[SUP_EV_KILL_TIMEOUT] = { SUP_KILLING, sup_kill_child },
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
	},
	[SUP_KILLING] = {
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
	},
	[SUP_EXITING] = {
		[SUP_EV_DEREGISTERED] = { SUP_DONE, sup_finish },
	},
};

static void
sup_dispatch(struct supervisor *sup, enum sup_event event)
{
	const struct sup_transition *t = &sup_table[sup->state][event];

	if (t->next == SUP_SAME) {
		log_debug("supervisor: event %d ignored while %s", (int)event,
		          sup_state_names[sup->state]);
		return;
	}
	log_debug("supervisor: %s -> %s", sup_state_names[sup->state], sup_state_names[t->next]);
	sup->state = t->next;
	if (t->action != NULL)
		t->action(sup);
}

/* ----------------------------------------------------------------- actions */

static void
sup_deregistered(void *arg)
{
	sup_dispatch(arg, SUP_EV_DEREGISTERED);
}

static void
sup_deregister(struct supervisor *sup)
{
	checks_stop(sup->checks);
	agent_shutdown(sup->agent, sup_deregistered, sup);
}

static void
sup_send_stop_signal(struct supervisor *sup)
{
	char name[32];

	log_notice("sending %s to %s (pid %d)", sig_name(sup->stop_signal, name, sizeof(name)),
	           sup->child->name, (int)sup->child->pid);
	child_signal(sup->child, sup->stop_signal);
	/* A stopped process cannot act on the signal until it runs again. */
	if (sup->child->state == CHILD_STOPPED)
		child_signal(sup->child, SIGCONT);
}

static void
sup_stop_child(struct supervisor *sup)
{
	sup_send_stop_signal(sup);
	ev_timer_start(sup->loop, &sup->kill_timer, sup->settings.kill_timeout_ms);
}

static void
sup_signal_again(struct supervisor *sup)
{
	sup_send_stop_signal(sup);
}

static void
sup_kill_child(struct supervisor *sup)
{
	log_warnx("%s (pid %d) still running %lld ms after the stop signal; sending SIGKILL",
	          sup->child->name, (int)sup->child->pid, (long long)sup->settings.kill_timeout_ms);
	child_signal(sup->child, SIGKILL);
}

static void
sup_finish(struct supervisor *sup)
{
	ev_break(sup->loop);
}

static int64_t
sup_kill_timeout(ev_loop *loop, ev_timer *timer, void *arg)
{
	sup_dispatch(arg, SUP_EV_KILL_TIMEOUT);
	return EV_TIMER_STOP;
}

/* ---------------------------------------------------------- child status */

static void
sup_report_child(struct supervisor *sup)
{
	char output[256], name[32];
	const struct child *child = sup->child;

	if (child->state == CHILD_RUNNING) {
		snprintf(output, sizeof(output), "%s (pid %d) is running", child->name,
		         (int)child->pid);
		checks_process_state(sup->checks, CONSUL_PASSING, output);
	} else if (child->state == CHILD_STOPPED) {
		snprintf(output, sizeof(output), "%s (pid %d) is stopped by %s and not serving",
		         child->name, (int)child->pid,
		         sig_name(child->stop_signal, name, sizeof(name)));
		checks_process_state(sup->checks, CONSUL_CRITICAL, output);
	}
}

static void
sup_log_exit(const struct child *child)
{
	char name[32];

	if (WIFSIGNALED(child->wait_status))
		log_notice("%s (pid %d) was killed by %s", child->name, (int)child->pid,
		           sig_name(WTERMSIG(child->wait_status), name, sizeof(name)));
	else
		log_notice("%s (pid %d) exited with status %d", child->name, (int)child->pid,
		           WEXITSTATUS(child->wait_status));
}

/* What waitpid said about our child: stopped, continued or gone. */
static void
sup_child_changed(ev_loop *loop, ev_child *watcher, int wait_status, void *arg)
{
	struct supervisor *sup = arg;

	if (!child_update(sup->child, wait_status))
		return;
	if (sup->child->state == CHILD_EXITED) {
		sup_log_exit(sup->child);
		ev_timer_stop(sup->loop, &sup->kill_timer);
		sup_dispatch(sup, SUP_EV_CHILD_EXITED);
	} else {
		sup_report_child(sup);
	}
}

/* Reap everything that is ready: our child, probes, and orphans when we are
 * PID 1 or a subreaper. */
static void
sup_reap(struct supervisor *sup)
{
	int orphans = ev_reap(sup->loop);

	if (orphans > 0)
		log_debug("reaped %d orphaned process%s", orphans, orphans == 1 ? "" : "es");
}

/* ----------------------------------------------------------------- signals */

static void
sup_on_signal(struct supervisor *sup, int signo)
{
	char name[32];

	if (signo == SIGCHLD) {
		sup_reap(sup);
	} else if (sig_is_terminating(signo)) {
		log_notice("received %s", sig_name(signo, name, sizeof(name)));
		sup->stop_signal = signo;
		sup_dispatch(sup, SUP_EV_TERMINATE);
	} else if (sig_is_forwarded(signo)) {
		log_info("forwarding %s to %s", sig_name(signo, name, sizeof(name)),
		         sup->child->name);
		child_signal(sup->child, signo);
	}
}

static void
sup_signals_ready(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	int signo;

	while ((signo = sig_next(io->fd)) != 0)
		sup_on_signal(arg, signo);
}

/* ------------------------------------------------------------------- run */

int
supervisor_become_subreaper(void)
{
#ifdef __linux__
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* The loop failed (it should not): still report the child's real status. */
static int
sup_wait_blocking(struct supervisor *sup)
{
	int status;

	while (sup->child->state != CHILD_EXITED) {
		if (waitpid(sup->child->pid, &status, 0) == sup->child->pid)
			child_update(sup->child, status);
		else if (errno != EINTR)
			return 125;
	}
	return child_exit_code(sup->child);
}

int
supervisor_run(ev_loop *loop, struct agent *agent, struct checks *checks, struct child *child,
               int signal_fd, const struct supervisor_settings *settings)
{
	struct supervisor sup = {
		.loop = loop,
		.agent = agent,
		.checks = checks,
		.child = child,
		.settings = *settings,
		.state = SUP_RUNNING,
	};

	ev_timer_init(&sup.kill_timer, sup_kill_timeout, &sup);
	ev_io_init(&sup.signal_io, signal_fd, POLLIN, sup_signals_ready, &sup);
	ev_child_init(&sup.child_watcher, child->pid, sup_child_changed, &sup);
	if (ev_io_start(loop, &sup.signal_io) < 0 || ev_child_start(loop, &sup.child_watcher) < 0)
		return sup_wait_blocking(&sup);
	sup_report_child(&sup);
	agent_start(agent);
	checks_start(checks);
	/* The child may have gone before we started listening. */
	sup_reap(&sup);
	if (ev_run(loop) < 0 || sup.state != SUP_DONE) {
		log_warnx("event loop failed; waiting for %s without the agent", child->name);
		return sup_wait_blocking(&sup);
	}
	ev_io_stop(loop, &sup.signal_io);
	ev_child_stop(loop, &sup.child_watcher);
	ev_timer_stop(loop, &sup.kill_timer);
	return child_exit_code(child);
}
