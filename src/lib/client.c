/*
 * Clients: a copy of the connection settings that calls are built from, and
 * the ACL token those calls carry (set directly or re-read from its file).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct consul_client {
	consul_config cfg;
};

static bool
client_has_control_chars(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
	}
	return false;
}

static int
client_check_config(const consul_config *cfg, consul_error *err)
{
	if (!cfg->tls.cert_file != !cfg->tls.key_file)
		return consul_error_set(err, "TLS", CONFIG_CERT_PAIR_TEXT);
	if (cfg->transport == CONSUL_TRANSPORT_UNIX && (!cfg->socket_path || !*cfg->socket_path))
		return consul_error_set(
		        err, "address",
		        "a unix socket path is required (e.g. unix:///run/consul/http.sock)");
	/* The token goes into a header line: a newline would split it. */
	if (cfg->token && client_has_control_chars(cfg->token))
		return consul_error_set(
		        err, "token", "the ACL token contains control characters (a line break?)");
	return 0;
}

consul_client *
consul_client_new(const consul_config *cfg, consul_error *err)
{
	consul_client *client;

	if (client_check_config(cfg, err) < 0)
		return NULL;
	client = calloc(1, sizeof *client);
	if (!client || consul_config_copy(&client->cfg, cfg) < 0) {
		free(client);
		consul_error_set(err, "client", "out of memory");
		return NULL;
	}
	return client;
}

void
consul_client_free(consul_client *client)
{
	if (!client)
		return;
	consul_config_free(&client->cfg);
	free(client);
}

int
consul_client_set_token(consul_client *client, const char *token, consul_error *err)
{
	char *copy = NULL;

	if (token && client_has_control_chars(token))
		return consul_error_set(
		        err, "token", "the ACL token contains control characters (a line break?)");
	if (token && *token && (copy = strdup(token)) == NULL)
		return consul_error_set(err, "token", "out of memory");
	if (client->cfg.token) {
		ostiary_config_secret_wipe(client->cfg.token);
		free(client->cfg.token);
	}
	client->cfg.token = copy;
	return 0;
}

int
consul_client_reload_token(consul_client *client, consul_error *err)
{
	consul_config fresh;
	bool changed;
	int rc = 0;

	if (!client->cfg.token_file)
		return 0;
	consul_config_init(&fresh);
	if (consul_config_load_token_file(&fresh, client->cfg.token_file, err) < 0) {
		consul_config_free(&fresh);
		return -1;
	}
	/* An empty file means no token (fresh.token NULL), as at start. */
	changed = (client->cfg.token == NULL) != (fresh.token == NULL) ||
	          (fresh.token != NULL && strcmp(client->cfg.token, fresh.token) != 0);
	if (changed)
		rc = consul_client_set_token(client, fresh.token, err);
	consul_config_free(&fresh);
	return rc < 0 ? -1 : changed;
}

const consul_config *
consul_client_config(const consul_client *client)
{
	return &client->cfg;
}
