/* service.c - the services as the agent is told them (see service.h). */
#include "service.h"

#include <stdlib.h>

/* The library's view of one service: pointers into the conf, with the
 * arrays the view needs of its own. */
struct service_view {
	consul_service def;
	consul_check_def *checks;
	consul_meta *meta;
	consul_tagged_address *tagged;
};

struct services {
	struct service_view *views;
	size_t nviews;
	struct agent_check **checks; /* every service's checks, in conf order */
	size_t nchecks;
};

static int
service_view_init(struct service_view *view, const struct conf *conf,
                  const struct service_conf *svc)
{
	view->checks = calloc(svc->nchecks + 1, sizeof(*view->checks));
	view->meta = calloc(svc->nmeta + 1, sizeof(*view->meta));
	view->tagged = calloc(svc->ntagged_addresses + 1, sizeof(*view->tagged));
	if (view->checks == NULL || view->meta == NULL || view->tagged == NULL)
		return -1;
	conf_service_view(conf, svc, &view->def, view->checks, view->tagged, view->meta);
	return 0;
}

static size_t
services_count_checks(const struct conf *conf)
{
	size_t n = 0;

	for (size_t i = 0; i < conf->nservices; i++)
		n += conf->services[i].nchecks;
	return n;
}

/* Register one service's view and its checks with the agent session. */
static int
services_add(struct services *services, struct agent *agent, const struct conf *conf,
             const struct service_conf *svc)
{
	struct service_view *view = &services->views[services->nviews++];
	struct agent_service *service;

	if (service_view_init(view, conf, svc) < 0 ||
	    (service = agent_add_service(agent, &view->def)) == NULL)
		return -1;
	for (size_t c = 0; c < svc->nchecks; c++) {
		const struct check_conf *check = &svc->checks[c];
		struct agent_check *handle =
		        agent_add_check(service, check->id, conf_check_heartbeat(conf, check));

		if (handle == NULL)
			return -1;
		services->checks[services->nchecks++] = handle;
	}
	return 0;
}

struct services *
services_new(struct agent *agent, const struct conf *conf, consul_error *err)
{
	struct services *services = calloc(1, sizeof(*services));

	if (services == NULL ||
	    (services->views = calloc(conf->nservices, sizeof(*services->views))) == NULL ||
	    (services->checks =
	             calloc(services_count_checks(conf) + 1, sizeof(*services->checks))) == NULL)
		goto nomem;
	for (size_t s = 0; s < conf->nservices; s++) {
		if (services_add(services, agent, conf, &conf->services[s]) < 0)
			goto nomem;
	}
	return services;
nomem:
	services_free(services);
	consul_error_set(err, "ostiary", "out of memory");
	return NULL;
}

struct agent_check *
services_check(const struct services *services, size_t index)
{
	return index < services->nchecks ? services->checks[index] : NULL;
}

void
services_free(struct services *services)
{
	if (services == NULL)
		return;
	for (size_t i = 0; i < services->nviews; i++) {
		free(services->views[i].checks);
		free(services->views[i].meta);
		free(services->views[i].tagged);
	}
	free(services->views);
	free(services->checks);
	free(services);
}
