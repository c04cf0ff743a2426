/* supervisor.c - child lifecycle and shutdown state machine (see supervisor.h). */
#include "supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "exitcode.h"
#include "listenfd.h"
#include "log.h"
#include "mem.h"
#include "notify.h"
#include "sdnotify.h"
#include "sig.h"
#include "spawn.h"
#include "status.h"

extern char **environ;

enum sup_state {
	SUP_SAME = 0, /* table filler: "no transition" */
	SUP_LOADING,  /* reading the command's configuration from Consul KV */
	SUP_RUNNING,
	SUP_RESTARTING,  /* child gone; waiting out the restart delay, still registered */
	SUP_DRAINING,    /* terminating signal or new configuration; drain step and delay running */
	SUP_DRAIN_DELAY, /* the drain step reached the agent; the drain delay runs on */
	SUP_DRAIN_STEP,  /* the drain delay is over; the drain step has not reached the agent */
	SUP_STOPPING,    /* child signalled; kill timer armed */
	SUP_KILLING,     /* SIGKILL sent */
	SUP_CLEANING,    /* child gone; what is left of its process group is being stopped */
	SUP_EXITING,     /* child gone for good; deregistering */
	SUP_DONE,
	SUP_NSTATES
};

enum sup_event {
	SUP_EV_TERMINATE,     /* TERM, INT or QUIT arrived */
	SUP_EV_CHILD_EXITED,  /* ... and is not to be restarted */
	SUP_EV_CHILD_RESTART, /* ... and the restart policy wants it back */
	SUP_EV_RESTART_DUE,
	SUP_EV_DRAIN_OVER, /* the drain delay has passed */
	SUP_EV_DRAIN_STEP, /* the drain step reached the agent (or its bound passed) */
	SUP_EV_KILL_TIMEOUT,
	SUP_EV_AGENT_LOST,   /* unreachable past the fail-closed limit */
	SUP_EV_DEREGISTERED, /* the agent session finished its shutdown */
	SUP_EV_GROUP_LEFT,   /* the child is gone, members of its process group are not */
	SUP_EV_KV_LOADED,    /* everything from Consul KV was read (or is not required) */
	SUP_EV_KV_TIMEOUT,   /* ... and it was not, in time */
	SUP_EV_START_FAILED, /* the first start failed: nothing registered, nothing to wait for */
	SUP_EV_KV_RESTART,   /* new configuration: restart the command for it */
	SUP_EV_CHILD_RENEW,  /* the child is gone, and it was stopped for new configuration */
	SUP_NEVENTS
};

struct supervisor {
	struct supervisor_env env;
	struct notify *notify; /* NULL unless conf->notify */
	struct child *child;
	enum sup_state state;
	int stop_signal; /* what the child gets */
	char cause[64];  /* why we stop: "received SIGTERM", "the agent is unreachable ..." */
	int exit_code;   /* when no child's status is ours to give: -1 = the child's */
	int received;    /* the last terminating signal */

	/* a restart for new configuration from Consul KV */
	bool renewing;
	char renew_note[512]; /* "restarting for new configuration (keys: A, B)" */

	/* restarts */
	int attempt;        /* restarts in a row without a stable run */
	int64_t started_at; /* ev_now() when the current child started */
	char restart_note[256];

	/* what the child told us through NOTIFY_SOCKET */
	bool ready;
	bool stopping;
	char status[1024];

	/* The state's deadline (s6-supervise's): its event is sup_deadline_event. */
	ev_timer deadline;
	ev_timer drain_step_bound; /* the drain step may take AGENT_SHUTDOWN_TIMEOUT_MS */

	/* the child's process group, once the child is gone */
	enum sup_event after_clean; /* CHILD_EXITED or CHILD_RESTART, once it is empty */
	bool group_stopped;         /* it got the stop signal */
	int64_t clean_until;        /* ev time: stop waiting for it to empty */
	ev_timer group_timer;       /* looks whether it is empty */

	ev_io signal_io;
	ev_child child_watcher;

	/* systemd, when it started ostiary with NOTIFY_SOCKET (sdnotify.c) */
	bool sd_active;          /* it did */
	bool sd_ready;           /* READY=1 sent */
	bool sd_stopping;        /* STOPPING=1 sent */
	char sd_status[256];     /* the last STATUS= sent */
	ev_timer sd_ready_bound; /* READY=1 anyway after the agent timeout */
	ev_timer sd_watchdog;    /* WATCHDOG=1 at half WATCHDOG_USEC */
};

typedef void (*sup_action)(struct supervisor *sup);

static void sup_drain(struct supervisor *sup);
static void sup_deregister(struct supervisor *sup);
static void sup_stop_child(struct supervisor *sup);
static void sup_signal_again(struct supervisor *sup);
static void sup_kill_child(struct supervisor *sup);
static void sup_schedule_restart(struct supervisor *sup);
static void sup_restart_child(struct supervisor *sup);
static void sup_finish(struct supervisor *sup);
static void sup_clean_group(struct supervisor *sup);
static void sup_kill_group(struct supervisor *sup);
static void sup_no_restart(struct supervisor *sup);
static void sup_start_command(struct supervisor *sup);
static void sup_kv_timed_out(struct supervisor *sup);
static void sup_not_started(struct supervisor *sup);
static void sup_renew(struct supervisor *sup);
static void sup_renew_child(struct supervisor *sup);

static const char *const sup_state_names[SUP_NSTATES] = {
	[SUP_SAME] = "same",
	[SUP_LOADING] = "waiting for Consul KV",
	[SUP_RUNNING] = "running",
	[SUP_RESTARTING] = "restarting",
	[SUP_DRAINING] = "draining",
	[SUP_STOPPING] = "stopping",
	[SUP_KILLING] = "killing",
	[SUP_EXITING] = "exiting",
	[SUP_DONE] = "done",
	[SUP_CLEANING] = "cleaning",
	[SUP_DRAIN_DELAY] = "draining (step done)",
	[SUP_DRAIN_STEP] = "draining (delay over)",
};

/* What each state's deadline means; states without one have SUP_NEVENTS.
 * Entering actions arm it; a state with another deadline event stops it. */
static const enum sup_event sup_deadline_event[SUP_NSTATES] = {
	[SUP_SAME] = SUP_NEVENTS,
	[SUP_LOADING] = SUP_EV_KV_TIMEOUT,
	[SUP_RUNNING] = SUP_NEVENTS,
	[SUP_RESTARTING] = SUP_EV_RESTART_DUE,
	[SUP_DRAINING] = SUP_EV_DRAIN_OVER,
	[SUP_DRAIN_DELAY] = SUP_EV_DRAIN_OVER,
	[SUP_DRAIN_STEP] = SUP_NEVENTS,
	[SUP_STOPPING] = SUP_EV_KILL_TIMEOUT,
	[SUP_KILLING] = SUP_NEVENTS,
	[SUP_CLEANING] = SUP_EV_KILL_TIMEOUT,
	[SUP_EXITING] = SUP_NEVENTS,
	[SUP_DONE] = SUP_NEVENTS,
};

/* The whole lifecycle. Pairs not listed are ignored. */
static const struct sup_transition {
	enum sup_state next;
	sup_action action;
} sup_table[SUP_NSTATES][SUP_NEVENTS] = {
	[SUP_LOADING] = {
		[SUP_EV_KV_LOADED] = { SUP_RUNNING, sup_start_command },
		/* Starts without the data, or gives up: see sup_kv_timed_out. */
		[SUP_EV_KV_TIMEOUT] = { SUP_LOADING, sup_kv_timed_out },
		[SUP_EV_START_FAILED] = { SUP_DONE, sup_finish },
		[SUP_EV_TERMINATE] = { SUP_DONE, sup_not_started },
	},
	[SUP_RUNNING] = {
		[SUP_EV_TERMINATE] = { SUP_DRAINING, sup_drain },
		[SUP_EV_KV_RESTART] = { SUP_DRAINING, sup_renew },
		[SUP_EV_START_FAILED] = { SUP_DONE, sup_finish },
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RESTART] = { SUP_RESTARTING, sup_schedule_restart },
		/* Fail-closed: nobody can be drained through a lost agent. */
		[SUP_EV_AGENT_LOST] = { SUP_STOPPING, sup_stop_child },
		[SUP_EV_GROUP_LEFT] = { SUP_CLEANING, sup_clean_group },
	},
	[SUP_RESTARTING] = {
		[SUP_EV_RESTART_DUE] = { SUP_RUNNING, sup_restart_child },
		[SUP_EV_TERMINATE] = { SUP_EXITING, sup_deregister },
		[SUP_EV_AGENT_LOST] = { SUP_EXITING, sup_deregister },
	},
	/* The stop signal waits for both the drain delay and the drain step: a
	 * zero delay must not let it overtake the step. */
	[SUP_DRAINING] = {
		[SUP_EV_DRAIN_OVER] = { SUP_DRAIN_STEP, NULL },
		[SUP_EV_DRAIN_STEP] = { SUP_DRAIN_DELAY, NULL },
		/* Asked twice: the operator will not wait for the drain. */
		[SUP_EV_TERMINATE] = { SUP_STOPPING, sup_stop_child },
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RESTART] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RENEW] = { SUP_RUNNING, sup_renew_child },
		[SUP_EV_GROUP_LEFT] = { SUP_CLEANING, sup_clean_group },
	},
	[SUP_DRAIN_DELAY] = {
		[SUP_EV_DRAIN_OVER] = { SUP_STOPPING, sup_stop_child },
		[SUP_EV_TERMINATE] = { SUP_STOPPING, sup_stop_child },
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RESTART] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RENEW] = { SUP_RUNNING, sup_renew_child },
		[SUP_EV_GROUP_LEFT] = { SUP_CLEANING, sup_clean_group },
	},
	[SUP_DRAIN_STEP] = {
		[SUP_EV_DRAIN_STEP] = { SUP_STOPPING, sup_stop_child },
		[SUP_EV_TERMINATE] = { SUP_STOPPING, sup_stop_child },
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RESTART] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RENEW] = { SUP_RUNNING, sup_renew_child },
		[SUP_EV_GROUP_LEFT] = { SUP_CLEANING, sup_clean_group },
	},
	[SUP_STOPPING] = {
		[SUP_EV_TERMINATE] = { SUP_STOPPING, sup_signal_again },
		[SUP_EV_KILL_TIMEOUT] = { SUP_KILLING, sup_kill_child },
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RESTART] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RENEW] = { SUP_RUNNING, sup_renew_child },
		[SUP_EV_GROUP_LEFT] = { SUP_CLEANING, sup_clean_group },
	},
	[SUP_KILLING] = {
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RESTART] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RENEW] = { SUP_RUNNING, sup_renew_child },
		[SUP_EV_GROUP_LEFT] = { SUP_CLEANING, sup_clean_group },
	},
	/* Nothing the command started outlives it (but what left its group). */
	[SUP_CLEANING] = {
		[SUP_EV_CHILD_EXITED] = { SUP_EXITING, sup_deregister },
		[SUP_EV_CHILD_RESTART] = { SUP_RESTARTING, sup_schedule_restart },
		[SUP_EV_CHILD_RENEW] = { SUP_RUNNING, sup_renew_child },
		[SUP_EV_KILL_TIMEOUT] = { SUP_CLEANING, sup_kill_group },
		[SUP_EV_TERMINATE] = { SUP_CLEANING, sup_no_restart },
		[SUP_EV_AGENT_LOST] = { SUP_CLEANING, sup_no_restart },
	},
	[SUP_EXITING] = {
		[SUP_EV_DEREGISTERED] = { SUP_DONE, sup_finish },
	},
};

/* Arm the state's deadline: its event comes after ms. */
/* ------------------------------------------------------- systemd's view */

/* One STATUS= line, sent when it changes: the supervisor's state and what
 * the agent knows; STOPPING=1 once the stop has begun. */
static void
sup_sd_update(struct supervisor *sup)
{
	char status[sizeof(sup->sd_status)];
	const char *agent =
	        agent_reachable(sup->env.agent) ? "agent reachable" : "agent unreachable, retrying";

	if (!sup->sd_stopping && !sup->renewing && sup->state != SUP_LOADING &&
	    sup->state != SUP_RUNNING && sup->state != SUP_RESTARTING) {
		sup->sd_stopping = true;
		sdnotify_send("STOPPING=1");
	}
	snprintf(status, sizeof(status), "%s: %s; %zu/%zu services registered; %s",
	         sup->child->name != NULL ? sup->child->name : sup->env.conf->command[0],
	         sup_state_names[sup->state], agent_registered(sup->env.agent),
	         sup->env.conf->nservices, agent);
	if (strcmp(status, sup->sd_status) == 0)
		return;
	snprintf(sup->sd_status, sizeof(sup->sd_status), "%s", status);
	sdnotify_send("STATUS=%s", status);
}

/* Ready for systemd once the command runs and the agent has answered the
 * first registration, so units ordered After= this one find it in Consul. */
static void
sup_sd_ready(struct supervisor *sup)
{
	if (sup->sd_ready)
		return;
	sup->sd_ready = true;
	ev_timer_stop(sup->env.loop, &sup->sd_ready_bound);
	sdnotify_send("READY=1");
}

static void
sup_sd_agent_changed(void *arg)
{
	struct supervisor *sup = arg;

	if (agent_registered(sup->env.agent) > 0 && sup->state == SUP_RUNNING)
		sup_sd_ready(sup);
	sup_sd_update(sup);
}

/* The agent is slow or away: systemd is not kept waiting past its timeout
 * (the command runs); STATUS= says registration goes on. */
static int64_t
sup_sd_ready_overdue(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct supervisor *sup = arg;

	sup_sd_ready(sup);
	sdnotify_send("STATUS=%s: running; still trying to register with the agent",
	              sup->env.conf->command[0]);
	sup->sd_status[0] = '\0';
	return EV_TIMER_STOP;
}

/* Pinged from the loop itself: a stuck loop stops the pings. */
static int64_t
sup_sd_watchdog(ev_loop *loop, ev_timer *timer, void *arg)
{
	sdnotify_send("WATCHDOG=1");
	return sdnotify_watchdog_ms();
}

static void
sup_sd_start(struct supervisor *sup)
{
	int64_t watchdog_ms;

	if (!(sup->sd_active = sdnotify_init()))
		return;
	agent_on_change(sup->env.agent, sup_sd_agent_changed, sup);
	if ((watchdog_ms = sdnotify_watchdog_ms()) > 0)
		ev_timer_start(sup->env.loop, &sup->sd_watchdog, watchdog_ms);
	sup_sd_update(sup);
}

/* The command's line of the status snapshot (status.h). */
static void
sup_announce(const struct supervisor *sup)
{
	const struct child *child = sup->child;

	status_command_state(child->state == CHILD_STOPPED ? "stopped" : sup_state_names[sup->state],
	                     child->pid > 0 && child->state != CHILD_EXITED);
}

static void
sup_set_deadline(struct supervisor *sup, int64_t ms)
{
	ev_timer_start(sup->env.loop, &sup->deadline, ms);
}

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
	if (sup_deadline_event[t->next] != sup_deadline_event[sup->state])
		ev_timer_stop(sup->env.loop, &sup->deadline);
	sup->state = t->next;
	if (t->action != NULL)
		t->action(sup);
	sup_sd_update(sup);
	sup_announce(sup);
}

/* ------------------------------------------------------------- the hold */

/* What every check says while it cannot tell the truth about the child:
 * the most important reason wins; none releases the checks. */
static void
sup_update_hold(struct supervisor *sup)
{
	char reason[512];
	const char *name = sup->child->name;

	if (sup->state == SUP_EXITING || sup->state == SUP_DONE)
		return; /* the checks are stopped; the services are leaving */
	if (sup->state == SUP_RESTARTING)
		snprintf(reason, sizeof(reason), "%s", sup->restart_note);
	else if (sup->renewing)
		snprintf(reason, sizeof(reason), "%s", sup->renew_note);
	else if (sup->state == SUP_CLEANING)
		snprintf(reason, sizeof(reason),
		         "%s is gone; stopping what is left of its process group", name);
	else if (sup->state != SUP_RUNNING && sup->env.conf->drain == CONF_DRAIN_CRITICAL)
		snprintf(reason, sizeof(reason), "draining: ostiary is stopping %s (%s)", name,
		         sup->cause);
	else if (sup->stopping)
		snprintf(reason, sizeof(reason), "%s is stopping (it sent STOPPING=1)", name);
	else if (sup->env.conf->notify && !sup->ready)
		snprintf(reason, sizeof(reason),
		         "starting: waiting for %s to report READY=1 on NOTIFY_SOCKET", name);
	else {
		checks_hold(sup->env.checks, NULL);
		return;
	}
	checks_hold(sup->env.checks, reason);
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
	ev_timer_stop(sup->env.loop, &sup->drain_step_bound);
	checks_stop(sup->env.checks);
	agent_shutdown(sup->env.agent, sup_deregistered, sup);
}

/* The drain step reached the agent (or failed): see the DRAINING states. */
static void
sup_drain_step_reached(void *arg)
{
	struct supervisor *sup = arg;

	ev_timer_stop(sup->env.loop, &sup->drain_step_bound);
	sup_dispatch(sup, SUP_EV_DRAIN_STEP);
}

/* First step of a graceful stop: take the service out of rotation while
 * the child still serves what it has, then wait the drain delay. */
static void
sup_drain(struct supervisor *sup)
{
	char reason[256], delay[32];

	snprintf(reason, sizeof(reason), "ostiary is stopping %s (%s)", sup->child->name,
	         sup->cause);
	consul_duration_format(sup->env.conf->drain_delay_ms, delay, sizeof(delay));
	if (sup->env.conf->drain == CONF_DRAIN_NONE)
		log_notice("stopping %s in %s (no drain step)", sup->child->name, delay);
	else
		log_notice("draining (%s) for %s before stopping %s",
		           conf_drain_name(sup->env.conf->drain), delay, sup->child->name);
	sup_set_deadline(sup, sup->env.conf->drain_delay_ms);
	ev_timer_start(sup->env.loop, &sup->drain_step_bound, AGENT_SHUTDOWN_TIMEOUT_MS);
	switch (sup->env.conf->drain) {
	case CONF_DRAIN_MAINTENANCE:
		agent_drain(sup->env.agent, reason);
		agent_when_idle(sup->env.agent, sup_drain_step_reached, sup);
		break;
	case CONF_DRAIN_CRITICAL:
		sup_update_hold(sup);
		agent_when_idle(sup->env.agent, sup_drain_step_reached, sup);
		break;
	case CONF_DRAIN_DEREGISTER:
		checks_stop(sup->env.checks);
		agent_shutdown(sup->env.agent, sup_drain_step_reached, sup);
		break;
	case CONF_DRAIN_NONE:
		sup_drain_step_reached(sup);
		break;
	}
}

/*
 * A restart for new configuration is a drain that keeps the services
 * registered: maintenance (with --drain maintenance) and the checks held
 * critical, saying why; then the drain delay and the stop as for a
 * terminating signal, and the new command instead of the deregistration.
 */
static void
sup_renew(struct supervisor *sup)
{
	char delay[32];

	sup->renewing = true;
	consul_duration_format(sup->env.conf->drain_delay_ms, delay, sizeof(delay));
	log_notice("%s: draining for %s before stopping %s", sup->renew_note, delay,
	           sup->child->name);
	sup_set_deadline(sup, sup->env.conf->drain_delay_ms);
	ev_timer_start(sup->env.loop, &sup->drain_step_bound, AGENT_SHUTDOWN_TIMEOUT_MS);
	sup_update_hold(sup);
	if (sup->env.conf->drain == CONF_DRAIN_MAINTENANCE)
		agent_drain(sup->env.agent, sup->renew_note);
	if (sup->env.conf->drain == CONF_DRAIN_NONE)
		sup_drain_step_reached(sup);
	else
		agent_when_idle(sup->env.agent, sup_drain_step_reached, sup);
}

/* Whom a signal for the command reaches: its whole process group, so that
 * a server behind a wrapper script is signalled too, or with
 * --single-child the command alone. */
static void
sup_signal_command(struct supervisor *sup, int signo)
{
	if (sup->env.conf->single_child)
		child_signal(sup->child, signo);
	else
		child_signal_group(sup->child, signo);
}

static void
sup_send_stop_signal(struct supervisor *sup)
{
	const char *whom = sup->env.conf->single_child ? "" : " and its process group";
	int signo = conf_rewrite(sup->env.conf, sup->stop_signal);
	char name[32], timeout[32];

	if (signo == 0) {
		consul_duration_format(sup->env.conf->kill_timeout_ms, timeout, sizeof(timeout));
		log_notice("not sending %s to %s (pid %d): --rewrite drops it; SIGKILL in %s",
		           sig_name(sup->stop_signal, name, sizeof(name)), sup->child->name,
		           (int)sup->child->pid, timeout);
		sup->group_stopped = !sup->env.conf->single_child;
		return;
	}
	log_notice("sending %s to %s (pid %d)%s", sig_name(signo, name, sizeof(name)),
	           sup->child->name, (int)sup->child->pid, whom);
	sup_signal_command(sup, signo);
	sup->group_stopped = !sup->env.conf->single_child;
	/* A stopped process cannot act on the signal until it runs again. */
	if (sup->child->state == CHILD_STOPPED)
		sup_signal_command(sup, SIGCONT);
}

static void
sup_stop_child(struct supervisor *sup)
{
	ev_timer_stop(sup->env.loop, &sup->drain_step_bound);
	sup_send_stop_signal(sup);
	sup_set_deadline(sup, sup->env.conf->kill_timeout_ms);
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
	          sup->child->name, (int)sup->child->pid,
	          (long long)sup->env.conf->kill_timeout_ms);
	sup_signal_command(sup, SIGKILL);
}

/* ------------------------------------------------------ the group left */

/* Polls while it waits: the group's members need not be our children. */
#define SUP_GROUP_POLL_MS 20
/* After SIGKILL, how long the group may take to empty before we go on. */
#define SUP_GROUP_KILL_WAIT_MS 1000

/*
 * The command is gone but members of its process group are not (a server
 * behind a wrapper script that did not exec, a daemon that did not call
 * setsid): they get the stop signal, SIGKILL after the kill timeout, and
 * only then is the service deregistered or the command restarted.
 */
static void
sup_clean_group(struct supervisor *sup)
{
	int signo = conf_rewrite(sup->env.conf, sup->stop_signal);
	char name[32];

	ev_timer_stop(sup->env.loop, &sup->drain_step_bound);
	sup->clean_until =
	        ev_now(sup->env.loop) + sup->env.conf->kill_timeout_ms + SUP_GROUP_KILL_WAIT_MS;
	if (!sup->group_stopped) {
		log_notice("%s (pid %d) is gone; sending %s to what is left of its process group",
		           sup->child->name, (int)sup->child->pid,
		           signo ? sig_name(signo, name, sizeof(name)) : "nothing (--rewrite)");
		if (signo != 0) {
			child_signal_group(sup->child, signo);
			child_signal_group(sup->child, SIGCONT);
		}
		sup->group_stopped = true;
		sup_set_deadline(sup, sup->env.conf->kill_timeout_ms);
	}
	ev_timer_start(sup->env.loop, &sup->group_timer, SUP_GROUP_POLL_MS);
	sup_update_hold(sup);
}

static void
sup_kill_group(struct supervisor *sup)
{
	log_warnx("the process group of %s (%d) still has processes %lld ms after the stop "
	          "signal; sending SIGKILL",
	          sup->child->name, (int)sup->child->pid,
	          (long long)sup->env.conf->kill_timeout_ms);
	child_signal_group(sup->child, SIGKILL);
}

/* A stop asked for while the group empties: no restart afterwards. */
static void
sup_no_restart(struct supervisor *sup)
{
	sup->after_clean = SUP_EV_CHILD_EXITED;
}

static int64_t
sup_group_check(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct supervisor *sup = arg;

	if (child_group_alive(sup->child)) {
		if (ev_now(loop) < sup->clean_until)
			return SUP_GROUP_POLL_MS;
		log_warnx("the process group of %s (%d) is still not empty; going on without it",
		          sup->child->name, (int)sup->child->pid);
	}
	sup_dispatch(sup, sup->after_clean);
	return EV_TIMER_STOP;
}

static void
sup_finish(struct supervisor *sup)
{
	ev_break(sup->env.loop);
}

/* ---------------------------------------------------------------- restarts */

static void
sup_describe_exit(const struct child *child, char *buf, size_t len)
{
	char name[32];

	if (WIFSIGNALED(child->wait_status))
		snprintf(buf, len, "killed by %s",
		         sig_name(WTERMSIG(child->wait_status), name, sizeof(name)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(child->wait_status));
}

static bool
sup_wants_restart(const struct supervisor *sup)
{
	switch (sup->env.conf->restart) {
	case CONF_RESTART_ALWAYS:
		return true;
	case CONF_RESTART_ON_FAILURE:
		return child_exit_code(sup->child) != 0;
	case CONF_RESTART_NEVER:
		break;
	}
	return false;
}

/* Exponential backoff with a cap; a child that ran at least as long as the
 * cap was stable, so its crash starts the count again. */
static int64_t
sup_restart_delay(struct supervisor *sup)
{
	int64_t delay = sup->env.conf->restart_delay_ms, cap = sup->env.conf->restart_max_delay_ms;

	if (ev_now(sup->env.loop) - sup->started_at >= cap)
		sup->attempt = 0;
	sup->attempt++;
	for (int i = 1; i < sup->attempt && delay < cap; i++)
		delay *= 2;
	return delay < cap ? delay : cap;
}

static void
sup_schedule_restart(struct supervisor *sup)
{
	char how[64], next[32];
	int64_t delay = sup_restart_delay(sup);

	sup_describe_exit(sup->child, how, sizeof(how));
	consul_duration_format(delay, next, sizeof(next));
	snprintf(sup->restart_note, sizeof(sup->restart_note),
	         "restarting %s (attempt %d, next in %s): %s", sup->child->name, sup->attempt, next,
	         how);
	log_notice("%s", sup->restart_note);
	sup_update_hold(sup);
	sup_set_deadline(sup, delay);
}

static void sup_child_started(struct supervisor *sup);
static void sup_child_gone(struct supervisor *sup);
static void sup_child_changed(ev_loop *loop, ev_child *watcher, int wait_status, void *arg);
static void sup_reap(struct supervisor *sup);

/*
 * The command's environment, built afresh for every start: ostiary's own,
 * then the variables from Consul KV, then NOTIFY_SOCKET with --notify and
 * socket activation's LISTEN_*.  ostiary's environment itself is never
 * changed (setenv is not thread-safe, and nothing meant for the command
 * belongs there).
 */
static char **
sup_command_env(const struct supervisor *sup)
{
	char *set[8] = { NULL }, *own = NULL;
	char *const *listen = listenfd_env();
	char **base, **with_kv, **envp;
	size_t n = 0, k = 1;

	/* systemd's NOTIFY_SOCKET and watchdog are ostiary's: the command,
	 * answering them, would pass for ostiary. */
	for (char **e = environ; *e != NULL; e++)
		n++;
	if ((base = calloc(n + 1, sizeof(*base))) == NULL)
		return NULL;
	n = 0;
	for (char **e = environ; *e != NULL; e++)
		if (!sdnotify_is_own_variable(*e))
			base[n++] = *e;
	if (sup->notify != NULL &&
	    asprintf(&own, "NOTIFY_SOCKET=%s", notify_socket_path(sup->notify)) < 0) {
		free(base);
		return NULL;
	}
	/* set[0] is NOTIFY_SOCKET (or nothing), then socket activation's LISTEN_*. */
	set[0] = own;
	for (size_t i = 0; listen != NULL && listen[i] != NULL && k < 7; i++)
		set[k++] = listen[i];
	with_kv = spawn_env_new(base, sup->env.kv != NULL ? kvconf_env(sup->env.kv) : NULL);
	envp = with_kv != NULL ? spawn_env_new(with_kv, own != NULL ? set : set + 1) : NULL;
	spawn_env_free(with_kv);
	free(own);
	free(base);
	return envp;
}

/* The latest data from Consul KV becomes the command's (and the exec
 * probes' that ask for it); 0, or -1 when it could not (logged). */
static int
sup_kv_apply(struct supervisor *sup)
{
	if (kvconf_apply(sup->env.kv) < 0)
		return -1;
	checks_set_kv_env(sup->env.checks, kvconf_env(sup->env.kv));
	return 0;
}

/*
 * Start the command; 0, or the exit code of a start that failed.  Every
 * start gives it the latest data from Consul KV; when that cannot be
 * applied (a file cannot be written), the first start fails with 125 and a
 * later one goes on with what the command had.
 */
static int
sup_spawn(struct supervisor *sup, bool first)
{
	char **envp, *pid_env = NULL;
	int code;

	if (sup->env.kv != NULL && sup_kv_apply(sup) < 0) {
		if (first)
			return OSTIARY_EXIT_NO_KV;
		log_warnx("starting %s with the configuration it had", sup->env.conf->command[0]);
	}
	envp = sup_command_env(sup);
	if (envp == NULL) {
		log_warnx("cannot start %s: out of memory", sup->env.conf->command[0]);
		return OSTIARY_EXIT_INTERNAL;
	}
	/* Its own group: signals reach what it starts, the terminal's do not.
	 * Socket activation: the command's LISTEN_PID is written in the child. */
	for (size_t i = 0; envp[i] != NULL && pid_env == NULL; i++)
		if (listenfd_count() > 0 && strncmp(envp[i], "LISTEN_PID=", 11) == 0)
			pid_env = envp[i];
	code = child_spawn_listen(sup->child, sup->env.conf->command, envp, true,
	                          listenfd_count(), pid_env);
	spawn_env_free(envp);
	return code;
}

/* A later start that failed counts as a failed run, like the shell's 126/127. */
static void
sup_start_failed(struct supervisor *sup, int code)
{
	sup->child->state = CHILD_EXITED;
	sup->child->wait_status = (code & 0xff) << 8;
	sup_child_gone(sup);
}

static void
sup_restart_child(struct supervisor *sup)
{
	int code;

	/* A run that fails to start lasted no time: it is not "stable". */
	sup->started_at = ev_now(sup->env.loop);
	code = sup_spawn(sup, false);

	if (code != 0) {
		sup_start_failed(sup, code);
		return;
	}
	sup_child_started(sup);
}

/* ------------------------------------------- configuration from Consul KV */

/* Everything that runs alongside the command, once it runs. */
static void
sup_begin(struct supervisor *sup)
{
	sup_child_started(sup);
	if (sup->sd_active)
		ev_timer_start(sup->env.loop, &sup->sd_ready_bound,
		               consul_client_config(sup->env.client)->timeout_ms);
	agent_start(sup->env.agent);
	checks_start(sup->env.checks);
	mem_give_back(); /* what reading the configuration left */
	/* The child may have gone before we started listening. */
	sup_reap(sup);
}

/* The first start, once the configuration from Consul KV is in. */
static void
sup_start_command(struct supervisor *sup)
{
	int code = sup_spawn(sup, true);

	if (code != 0) {
		sup->exit_code = code;
		sup_dispatch(sup, SUP_EV_START_FAILED);
		return;
	}
	sup_begin(sup);
}

static void
sup_kv_loaded(void *arg)
{
	sup_dispatch(arg, SUP_EV_KV_LOADED);
}

static void
sup_kv_timed_out(struct supervisor *sup)
{
	char unread[1024], timeout[32];

	kvconf_describe_unread(sup->env.kv, unread, sizeof(unread));
	consul_duration_format(sup->env.conf->kv_timeout_ms, timeout, sizeof(timeout));
	if (!sup->env.conf->kv_required) {
		log_warnx("starting %s without what Consul KV could not give in %s: %s "
		          "(--kv-required=false)",
		          sup->env.conf->command[0], timeout, unread);
		sup_dispatch(sup, SUP_EV_KV_LOADED);
		return;
	}
	log_errorx("not starting %s: could not read from Consul KV in %s: %s",
	           sup->env.conf->command[0], timeout, unread);
	sup->exit_code = OSTIARY_EXIT_NO_KV;
	sup_dispatch(sup, SUP_EV_START_FAILED);
}

/* Stopped before the command ever ran: the shell's code for the signal. */
static void
sup_not_started(struct supervisor *sup)
{
	log_notice("%s was never started", sup->env.conf->command[0]);
	sup->exit_code = OSTIARY_EXIT_SIGNAL_BASE + sup->received;
	sup_finish(sup);
}

/* The old command is gone: the new one starts at once (no restart delay:
 * nothing failed), the services leave maintenance, and the checks wait
 * for it to be ready as after any start. */
static void
sup_renew_child(struct supervisor *sup)
{
	int code;

	sup->renewing = false;
	sup->attempt = 0;
	agent_undrain(sup->env.agent);
	sup->started_at = ev_now(sup->env.loop);
	if ((code = sup_spawn(sup, false)) != 0) {
		sup_start_failed(sup, code);
		return;
	}
	log_notice("started %s (pid %d) with the new configuration", sup->child->name,
	           (int)sup->child->pid);
	checks_reset_readiness(sup->env.checks);
	sup_child_started(sup);
}

/* A change from Consul KV has settled: act as --kv-on-change says. */
static void
sup_kv_changed(void *arg)
{
	struct supervisor *sup = arg;
	const struct conf *conf = sup->env.conf;
	char keys[400], name[32];

	kvconf_describe_changes(sup->env.kv, keys, sizeof(keys));
	if (sup->state != SUP_RUNNING) {
		/* Restarting or stopping: a next start takes the latest data. */
		log_info("new configuration (keys: %s) while %s: %s gets it when it starts",
		         keys, sup_state_names[sup->state], conf->command[0]);
		return;
	}
	switch (conf->kv_on_change) {
	case CONF_KV_RESTART:
		snprintf(sup->renew_note, sizeof(sup->renew_note),
		         "restarting for new configuration (keys: %s)", keys);
		sup->stop_signal = conf->stop_signal > 0 ? conf->stop_signal : SIGTERM;
		sup_dispatch(sup, SUP_EV_KV_RESTART);
		break;
	case CONF_KV_SIGNAL:
		if (sup_kv_apply(sup) < 0)
			break;
		log_notice("sending %s to %s (pid %d) for new configuration (keys: %s)",
		           sig_name(conf->kv_signal, name, sizeof(name)), sup->child->name,
		           (int)sup->child->pid, keys);
		sup_signal_command(sup, conf->kv_signal);
		break;
	case CONF_KV_NONE:
		if (sup_kv_apply(sup) == 0)
			log_notice("new configuration (keys: %s): leaving %s as it is "
			           "(--kv-on-change none)",
			           keys, sup->child->name);
		break;
	}
}

static int64_t
sup_deadline_passed(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct supervisor *sup = arg;

	if (sup_deadline_event[sup->state] != SUP_NEVENTS)
		sup_dispatch(sup, sup_deadline_event[sup->state]);
	return EV_TIMER_STOP;
}

static int64_t
sup_drain_step_overdue(ev_loop *loop, ev_timer *timer, void *arg)
{
	log_info("the drain step has not reached the agent in %d ms; going on",
	         AGENT_SHUTDOWN_TIMEOUT_MS);
	sup_drain_step_reached(arg);
	return EV_TIMER_STOP;
}

static void
sup_agent_lost(void *arg)
{
	struct supervisor *sup = arg;

	if (sup->state != SUP_RUNNING && sup->state != SUP_RESTARTING)
		return;
	snprintf(sup->cause, sizeof(sup->cause), "the agent is unreachable (fail-closed)");
	if (sup->env.conf->stop_signal > 0)
		sup->stop_signal = sup->env.conf->stop_signal;
	log_warnx("stopping %s: the agent has been unreachable too long (fail-closed)",
	          sup->child->name);
	sup_dispatch(sup, SUP_EV_AGENT_LOST);
}

/* ---------------------------------------------------------- child status */

static void
sup_report_child(struct supervisor *sup)
{
	char output[1400], name[32];
	const struct child *child = sup->child;

	if (child->state == CHILD_RUNNING) {
		snprintf(output, sizeof(output), "%s (pid %d) is running%s%s", child->name,
		         (int)child->pid, sup->status[0] ? ": " : "", sup->status);
		checks_process_state(sup->env.checks, CONSUL_PASSING, output);
	} else if (child->state == CHILD_STOPPED) {
		snprintf(output, sizeof(output), "%s (pid %d) is stopped by %s and not serving",
		         child->name, (int)child->pid,
		         sig_name(child->stop_signal, name, sizeof(name)));
		checks_process_state(sup->env.checks, CONSUL_CRITICAL, output);
	}
}

/* A (new) child runs: it must prove itself ready again. */
static void
sup_child_started(struct supervisor *sup)
{
	sup->started_at = ev_now(sup->env.loop);
	sup->ready = false;
	sup->stopping = false;
	sup->group_stopped = false;
	sup->status[0] = '\0';
	status_command_started(sup->child->pid);
	sup_announce(sup);
	if (sup->notify != NULL)
		notify_set_main_pid(sup->notify, sup->child->pid);
	ev_child_stop(sup->env.loop, &sup->child_watcher);
	ev_child_init(&sup->child_watcher, sup->child->pid, sup_child_changed, sup);
	if (ev_child_start(sup->env.loop, &sup->child_watcher) < 0)
		log_warnx("cannot watch %s (pid %d)", sup->child->name, (int)sup->child->pid);
	if (sup->attempt > 0) {
		log_notice("restarted %s (pid %d)", sup->child->name, (int)sup->child->pid);
		checks_reset_readiness(sup->env.checks);
	}
	sup_report_child(sup);
	sup_update_hold(sup);
}

static void
sup_child_gone(struct supervisor *sup)
{
	enum sup_event event = sup->renewing           ? SUP_EV_CHILD_RENEW
	                       : sup_wants_restart(sup) ? SUP_EV_CHILD_RESTART
	                                                : SUP_EV_CHILD_EXITED;

	if (child_group_alive(sup->child)) {
		/* Once it is empty: a stop under way still ends in exiting. */
		sup->after_clean =
		        sup->state == SUP_RUNNING || sup->renewing ? event : SUP_EV_CHILD_EXITED;
		sup_dispatch(sup, SUP_EV_GROUP_LEFT);
		return;
	}
	sup_dispatch(sup, event);
}

static void
sup_log_exit(const struct child *child)
{
	char how[64];

	sup_describe_exit(child, how, sizeof(how));
	log_notice("%s (pid %d) %s", child->name, (int)child->pid, how);
}

/* What waitpid said about our child: stopped, continued or gone. */
static void
sup_child_changed(ev_loop *loop, ev_child *watcher, int wait_status, void *arg)
{
	struct supervisor *sup = arg;

	if (!child_update(sup->child, wait_status))
		return;
	sup_announce(sup);
	if (sup->child->state == CHILD_EXITED) {
		sup_log_exit(sup->child);
		sup_child_gone(sup);
	} else {
		sup_report_child(sup);
	}
}

/* Reap everything that is ready: our child, probes, and orphans when we are
 * PID 1 or a subreaper. */
static void
sup_reap(struct supervisor *sup)
{
	int orphans = ev_reap(sup->env.loop);

	if (orphans > 0)
		log_debug("reaped %d orphaned process%s", orphans, orphans == 1 ? "" : "es");
}

/* ------------------------------------------------------------ sd_notify */

static void
sup_notified(void *arg, const struct notify_message *msg)
{
	struct supervisor *sup = arg;

	if (msg->status != NULL && strcmp(msg->status, sup->status) != 0) {
		snprintf(sup->status, sizeof(sup->status), "%s", msg->status);
		log_info("%s status: %s", sup->child->name, sup->status);
		sup_report_child(sup);
	}
	if (msg->ready && !sup->ready) {
		sup->ready = true;
		log_notice("%s (pid %d) reports READY=1", sup->child->name, (int)sup->child->pid);
	}
	if (msg->stopping && !sup->stopping) {
		sup->stopping = true;
		log_notice("%s (pid %d) reports STOPPING=1", sup->child->name,
		           (int)sup->child->pid);
	}
	if (msg->reloading)
		log_info("%s (pid %d) reports RELOADING=1", sup->child->name, (int)sup->child->pid);
	sup_update_hold(sup);
}

/* ----------------------------------------------------------------- signals */

static void
sup_warn(void *arg, const char *message)
{
	log_warnx("%s", message);
}

/* SIGHUP: a rotated token takes effect without a restart. */
static void
sup_reload_token(struct supervisor *sup)
{
	const char *path = consul_client_config(sup->env.client)->token_file;
	consul_error err = { 0 };
	int changed;

	if (path == NULL)
		return;
	changed = agent_reload_token(sup->env.agent, &err);
	if (changed < 0) {
		log_warnx("%s; keeping the token in use", err.text);
		return;
	}
	consul_config_warn_token_file_mode(path, sup_warn, NULL);
	if (!changed)
		log_notice("re-read the token file %s: token unchanged", path);
}

/* A signal passed on, as --rewrite says. */
static void
sup_forward(struct supervisor *sup, int signo)
{
	int to = conf_rewrite(sup->env.conf, signo);
	char name[32], as[32];

	sig_name(signo, name, sizeof(name));
	if (to == 0) {
		log_info("not forwarding %s to %s: --rewrite drops it", name, sup->child->name);
		return;
	}
	if (to == signo)
		log_info("forwarding %s to %s", name, sup->child->name);
	else
		log_info("forwarding %s to %s as %s", name, sup->child->name,
		         sig_name(to, as, sizeof(as)));
	sup_signal_command(sup, to);
}

static void
sup_on_signal(struct supervisor *sup, int signo)
{
	char name[32];

	if (signo == SIGCHLD) {
		sup_reap(sup);
		return;
	}
	if (sig_is_terminating(signo)) {
		log_notice("received %s", sig_name(signo, name, sizeof(name)));
		snprintf(sup->cause, sizeof(sup->cause), "received %s", name);
		sup->received = signo;
		/* A stop wins over a restart for new configuration under way. */
		sup->renewing = false;
		sup->stop_signal =
		        sup->env.conf->stop_signal > 0 ? sup->env.conf->stop_signal : signo;
		sup_dispatch(sup, SUP_EV_TERMINATE);
		return;
	}
	if (signo == SIGHUP) {
		sdnotify_reloading();
		sup_reload_token(sup);
		if (sup->sd_ready)
			sdnotify_send("READY=1");
	}
	/* Nobody to forward to while the configuration from Consul KV is read. */
	if ((sig_is_forwarded(signo) || sig_is_job_stop(signo)) && sup->child->pid > 0 &&
	    sup->child->state != CHILD_EXITED)
		sup_forward(sup, signo);
	/* As the terminal would have stopped us both, had we shared a group. */
	if (sig_is_job_stop(signo))
		raise(SIGSTOP);
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

static void
sup_stop_watchers(struct supervisor *sup)
{
	ev_io_stop(sup->env.loop, &sup->signal_io);
	ev_child_stop(sup->env.loop, &sup->child_watcher);
	ev_timer_stop(sup->env.loop, &sup->deadline);
	ev_timer_stop(sup->env.loop, &sup->drain_step_bound);
	ev_timer_stop(sup->env.loop, &sup->group_timer);
	ev_timer_stop(sup->env.loop, &sup->sd_ready_bound);
	ev_timer_stop(sup->env.loop, &sup->sd_watchdog);
	agent_on_change(sup->env.agent, NULL, NULL);
	agent_on_outage(sup->env.agent, NULL, NULL);
	agent_when_idle(sup->env.agent, NULL, NULL);
}

/* The socket behind NOTIFY_SOCKET, which sup_command_env gives the child
 * (and every restart of it); exec probes start from a clean environment. */
static int
sup_offer_notify(struct supervisor *sup)
{
	consul_error err = { 0 };

	sup->notify = notify_new(sup->env.loop, sup_notified, sup, &err);
	if (sup->notify == NULL) {
		log_errorx("cannot offer NOTIFY_SOCKET: %s", err.text);
		return -1;
	}
	return 0;
}

static int
sup_run_loop(struct supervisor *sup)
{
	if (ev_io_start(sup->env.loop, &sup->signal_io) < 0)
		return sup->child->pid > 0 ? sup_wait_blocking(sup) : OSTIARY_EXIT_INTERNAL;
	agent_on_outage(sup->env.agent, sup_agent_lost, sup);
	sup_sd_start(sup);
	if (sup->env.kv != NULL) {
		sup_set_deadline(sup, sup->env.conf->kv_timeout_ms);
		kvconf_start(sup->env.kv, sup_kv_loaded, sup_kv_changed, sup);
	} else {
		sup_begin(sup);
	}
	if (ev_run(sup->env.loop) < 0 || sup->state != SUP_DONE) {
		if (sup->child->pid <= 0)
			return OSTIARY_EXIT_INTERNAL;
		log_warnx("event loop failed; waiting for %s without the agent", sup->child->name);
		return sup_wait_blocking(sup);
	}
	return sup->exit_code >= 0 ? sup->exit_code : child_exit_code(sup->child);
}

int
supervisor_run(const struct supervisor_env *env)
{
	struct child child = { 0 };
	struct supervisor sup = {
		.env = *env,
		.child = &child,
		.state = env->kv != NULL ? SUP_LOADING : SUP_RUNNING,
		.exit_code = -1,
		.stop_signal = env->conf->stop_signal > 0 ? env->conf->stop_signal : SIGTERM,
		.cause = "stopping",
	};
	int code;

	ev_timer_init(&sup.deadline, sup_deadline_passed, &sup);
	ev_timer_init(&sup.drain_step_bound, sup_drain_step_overdue, &sup);
	ev_timer_init(&sup.group_timer, sup_group_check, &sup);
	ev_timer_init(&sup.sd_ready_bound, sup_sd_ready_overdue, &sup);
	ev_timer_init(&sup.sd_watchdog, sup_sd_watchdog, &sup);
	ev_io_init(&sup.signal_io, env->signal_fd, POLLIN, sup_signals_ready, &sup);
	ev_child_init(&sup.child_watcher, 0, sup_child_changed, &sup);
	if (sup.env.conf->notify && sup_offer_notify(&sup) < 0) {
		code = OSTIARY_EXIT_INTERNAL;
	} else if (env->kv != NULL || (code = sup_spawn(&sup, true)) == 0) {
		/* The child starts whatever the agent is doing. */
		code = sup_run_loop(&sup);
		sup_stop_watchers(&sup);
	}
	notify_free(sup.notify);
	sdnotify_close();
	return code;
}
