/*
 * The agent connection: defaults, CONSUL_HTTP_ADDR-style addresses, token
 * files and the CONSUL_* environment variables, mirroring the Go client
 * (hashicorp/consul api/api.go: defaultConfig, NewClient, SetupTLSConfig).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define ADDR_FORMS "use host:port, http://host:port, https://host:port or unix:///path/to/socket"
#define TOKEN_FILE_MAX (64 * 1024)

/* Every string member, for copy and free. */
static const size_t config_string_fields[] = {
	offsetof(consul_config, host),
	offsetof(consul_config, path_prefix),
	offsetof(consul_config, socket_path),
	offsetof(consul_config, token),
	offsetof(consul_config, token_file),
	offsetof(consul_config, ns),
	offsetof(consul_config, partition),
	offsetof(consul_config, http_auth),
	offsetof(consul_config, tls.ca_file),
	offsetof(consul_config, tls.ca_path),
	offsetof(consul_config, tls.cert_file),
	offsetof(consul_config, tls.key_file),
	offsetof(consul_config, tls.server_name),
};
#define CONFIG_NFIELDS (sizeof config_string_fields / sizeof config_string_fields[0])

static char **
config_field(consul_config *cfg, size_t i)
{
	return (char **)(void *)((char *)cfg + config_string_fields[i]);
}

static const char *
config_field_value(const consul_config *cfg, size_t i)
{
	return *(char *const *)(const void *)((const char *)cfg + config_string_fields[i]);
}

void
ostiary_config_secret_wipe(char *secret)
{
	/* volatile: the stores must survive the free() that follows. */
	for (volatile char *p = secret; p && *p; p++)
		*p = '\0';
}

const char *
ostiary_config_host(const consul_config *cfg)
{
	return cfg->host ? cfg->host : CONSUL_DEFAULT_HOST;
}

const char *
ostiary_config_path_prefix(const consul_config *cfg)
{
	return cfg->path_prefix ? cfg->path_prefix : "";
}

bool
ostiary_config_host_needs_brackets(const char *host)
{
	return strchr(host, ':') != NULL;
}

int
ostiary_config_append_host(struct strbuf *buf, const char *host)
{
	if (ostiary_config_host_needs_brackets(host))
		return ostiary_strbuf_printf(buf, "[%s]", host);
	return ostiary_strbuf_printf(buf, "%s", host);
}

int
ostiary_config_append_origin(struct strbuf *buf, const consul_config *cfg, const char *host)
{
	if (ostiary_strbuf_printf(buf, "%s://", cfg->https ? "https" : "http") < 0 ||
	    ostiary_config_append_host(buf, host) < 0)
		return -1;
	return cfg->port ? ostiary_strbuf_printf(buf, ":%d", cfg->port) : 0;
}

/* A missing host or prefix (allocation failure in init) reads as the default. */
void
consul_config_init(consul_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->transport = CONSUL_TRANSPORT_TCP;
	cfg->host = strdup(CONSUL_DEFAULT_HOST);
	cfg->port = CONSUL_DEFAULT_PORT;
	cfg->path_prefix = strdup("");
	cfg->tls.verify = true;
	cfg->connect_timeout_ms = CONSUL_DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->timeout_ms = CONSUL_DEFAULT_TIMEOUT_MS;
}

void
consul_config_free(consul_config *cfg)
{
	ostiary_config_secret_wipe(cfg->token);
	ostiary_config_secret_wipe(cfg->http_auth);
	for (size_t i = 0; i < CONFIG_NFIELDS; i++)
		free(*config_field(cfg, i));
	memset(cfg, 0, sizeof *cfg);
}

int
consul_config_copy(consul_config *dst, const consul_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < CONFIG_NFIELDS; i++)
		*config_field(dst, i) = NULL;
	for (size_t i = 0; i < CONFIG_NFIELDS; i++) {
		const char *value = config_field_value(src, i);

		if (value && !(*config_field(dst, i) = strdup(value))) {
			consul_config_free(dst);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- addresses */

/* One parsed address; applied to the config only when all of it is valid. */
struct config_addr {
	enum consul_transport transport;
	bool https;
	char *host;
	int port;
	char *path_prefix;
	char *socket_path;
};

static void
config_addr_free(struct config_addr *addr)
{
	free(addr->host);
	free(addr->path_prefix);
	free(addr->socket_path);
}

static int
config_out_of_memory(consul_error *err, const char *source)
{
	return consul_error_set(err, source, "out of memory");
}

static int
config_parse_port(const char *text, const char *addr, const char *source, int *port,
                  consul_error *err)
{
	size_t len = strlen(text);
	long value =
	        len && len <= 5 && strspn(text, "0123456789") == len ? strtol(text, NULL, 10) : 0;

	if (value < 1 || value > 65535)
		return consul_error_set(
		        err, source, "invalid port \"%s\" in \"%s\" (use a number from 1 to 65535)",
		        text, addr);
	*port = (int)value;
	return 0;
}

/* Characters that would change the meaning of the URL built from the host. */
static bool
config_host_chars_ok(const char *host)
{
	for (const unsigned char *p = (const unsigned char *)host; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f || strchr("/?#@[]\\", *p))
			return false;
	}
	return true;
}

/* "host", "host:port", "[v6]" or "[v6]:port"; hp is modified. */
static int
config_parse_hostport(char *hp, const char *addr, const char *source, struct config_addr *out,
                      consul_error *err)
{
	char *host = hp, *port = NULL;

	if (*hp == '[') {
		char *close = strchr(hp, ']');

		if (!close)
			return consul_error_set(
			        err, source,
			        "invalid address \"%s\": missing \"]\" after the IPv6 address",
			        addr);
		*close = '\0';
		host = hp + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return consul_error_set(
			        err, source,
			        "invalid address \"%s\": expected \":port\" after \"]\"", addr);
	} else {
		char *colon = strchr(hp, ':');

		if (colon && strchr(colon + 1, ':'))
			return consul_error_set(err, source,
			                        "invalid address \"%s\": write an IPv6 address in "
			                        "brackets, e.g. [::1]:8500",
			                        addr);
		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (!*host)
		return consul_error_set(
		        err, source, "invalid address \"%s\": missing host (" ADDR_FORMS ")", addr);
	if (!config_host_chars_ok(host))
		return consul_error_set(err, source,
		                        "invalid address \"%s\": the host contains characters a "
		                        "host name cannot have",
		                        addr);
	out->port = 0; /* the scheme's default */
	if (port && config_parse_port(port, addr, source, &out->port, err) < 0)
		return -1;
	if (!(out->host = strdup(host)))
		return config_out_of_memory(err, source);
	return 0;
}

/* "/prefix" without trailing slashes, or "" (api/api.go PathPrefix). */
static int
config_parse_prefix(const char *path, const char *addr, const char *source, struct config_addr *out,
                    consul_error *err)
{
	size_t len = path ? strlen(path) : 0;

	while (len > 0 && path[len - 1] == '/')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c <= ' ' || c >= 0x7f || c == '?' || c == '#')
			return consul_error_set(err, source,
			                        "invalid address \"%s\": the path prefix may not "
			                        "contain spaces, \"?\" or \"#\"",
			                        addr);
	}
	if (!(out->path_prefix = strndup(len ? path : "", len)))
		return config_out_of_memory(err, source);
	return 0;
}

static int
config_parse_unix(const char *path, const char *addr, const char *source, struct config_addr *out,
                  consul_error *err)
{
	if (!*path)
		return consul_error_set(err, source,
		                        "invalid address \"%s\": missing socket path (e.g. "
		                        "unix:///run/consul/http.sock)",
		                        addr);
	out->transport = CONSUL_TRANSPORT_UNIX;
	if (!(out->socket_path = strdup(path)) || !(out->path_prefix = strdup("")))
		return config_out_of_memory(err, source);
	return 0;
}

/* The scheme handling of api/api.go NewClient, with stricter host checks. */
static int
config_parse_addr(const char *addr, const char *source, struct config_addr *out, consul_error *err)
{
	const char *sep, *rest, *slash;
	char *hostport;
	size_t len;
	int rc;

	memset(out, 0, sizeof *out);
	if (!addr || !*addr)
		return consul_error_set(err, source, "empty address (" ADDR_FORMS ")");
	sep = strstr(addr, "://");
	rest = sep ? sep + 3 : addr;
	if (sep) {
		len = (size_t)(sep - addr);
		if (len == 4 && strncmp(addr, "unix", 4) == 0)
			return config_parse_unix(rest, addr, source, out, err);
		if (len == 5 && strncmp(addr, "https", 5) == 0)
			out->https = true;
		else if (len != 4 || strncmp(addr, "http", 4) != 0)
			return consul_error_set(err, source,
			                        "Unknown protocol scheme: %.*s (" ADDR_FORMS ")",
			                        (int)len, addr);
	}
	slash = strchr(rest, '/');
	if (slash && !sep)
		return consul_error_set(
		        err, source,
		        "invalid address \"%s\": a path prefix needs http:// or https:// in front",
		        addr);
	len = slash ? (size_t)(slash - rest) : strlen(rest);
	/* Checked before any message quotes the address: it may hold a password. */
	if (memchr(rest, '@', len))
		return consul_error_set(
		        err, source,
		        "user:password@ in the address is not supported (use an ACL token)");
	if (!(hostport = strndup(rest, len)))
		return config_out_of_memory(err, source);
	rc = config_parse_hostport(hostport, addr, source, out, err);
	free(hostport);
	if (rc < 0)
		return -1;
	out->transport = CONSUL_TRANSPORT_TCP;
	return config_parse_prefix(slash, addr, source, out, err);
}

static void
config_apply_addr(consul_config *cfg, struct config_addr *addr)
{
	cfg->transport = addr->transport;
	/* "http://" never turns https off: CONSUL_HTTP_SSL may have forced it
	 * ("Never revert to http if TLS was explicitly requested", NewClient). */
	if (addr->https)
		cfg->https = true;
	free(cfg->path_prefix);
	cfg->path_prefix = addr->path_prefix;
	free(cfg->socket_path);
	cfg->socket_path = addr->socket_path;
	if (addr->transport == CONSUL_TRANSPORT_TCP) {
		free(cfg->host);
		cfg->host = addr->host;
		cfg->port = addr->port;
	}
	addr->path_prefix = addr->socket_path = NULL;
	if (addr->transport == CONSUL_TRANSPORT_TCP)
		addr->host = NULL;
}

static int
config_set(consul_config *cfg, const char *addr, const char *source, consul_error *err)
{
	struct config_addr parsed;
	int rc = config_parse_addr(addr, source, &parsed, err);

	if (rc == 0)
		config_apply_addr(cfg, &parsed);
	config_addr_free(&parsed);
	return rc;
}

int
consul_config_set_addr(consul_config *cfg, const char *addr, const char *source, consul_error *err)
{
	return config_set(cfg, addr, source, err);
}

/* --------------------------------------------------------------- token file */

/*
 * The token file may name a directory, a FIFO (open would wait for a
 * writer), a socket or a device (/dev/zero never ends): refused before
 * any read.  O_NONBLOCK keeps the open of a FIFO from blocking.
 */
static int
config_open_regular(const char *path, bool *not_regular)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), saved;

	*not_regular = false;
	if (fd < 0) {
		saved = errno; /* a socket: ENXIO */
		*not_regular = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
		return -saved;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		*not_regular = true;
		close(fd);
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		saved = errno;
		close(fd);
		return -saved;
	}
	return fd;
}

/* Reads at most max + 1 bytes so that an oversized file can be told apart. */
static int
config_read_file(const char *path, char *buf, size_t max, size_t *len, bool *not_regular)
{
	int fd = config_open_regular(path, not_regular);
	int saved = 0;

	*len = 0;
	if (fd < 0)
		return -fd;
	while (*len <= max) {
		ssize_t n = read(fd, buf + *len, max + 1 - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			saved = errno;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return saved;
}

static bool
config_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void
config_set_token(consul_config *cfg, char *token)
{
	ostiary_config_secret_wipe(cfg->token);
	free(cfg->token);
	cfg->token = token;
}

/* Messages name the file, never its contents. */
int
consul_config_load_token_file(consul_config *cfg, const char *path, consul_error *err)
{
	char *buf = malloc(TOKEN_FILE_MAX + 1), *start, *token = NULL, *source;
	size_t len = 0;
	bool not_regular;
	int rc;

	if (!buf)
		return consul_error_set(err, path, "error loading token file %s: out of memory",
		                        path);
	rc = config_read_file(path, buf, TOKEN_FILE_MAX, &len, &not_regular);
	buf[len > TOKEN_FILE_MAX ? TOKEN_FILE_MAX : len] = '\0';
	if (not_regular) {
		consul_error_set(err, path, "error loading token file %s: not a regular file",
		                 path);
	} else if (rc != 0) {
		consul_error_set(err, path, "error loading token file %s: %s", path, strerror(rc));
	} else if (len > TOKEN_FILE_MAX) {
		consul_error_set(err, path, "error loading token file %s: larger than %d bytes",
		                 path, TOKEN_FILE_MAX);
	} else {
		for (start = buf; config_is_space(*start); start++)
			;
		while (len > (size_t)(start - buf) && config_is_space(buf[len - 1]))
			buf[--len] = '\0';
		/* api/api.go: the trimmed contents, "" (no token) included. */
		if (!(token = strdup(start)))
			consul_error_set(err, path, "error loading token file %s: out of memory",
			                 path);
	}
	ostiary_config_secret_wipe(buf);
	free(buf);
	if (token && !(source = strdup(path))) {
		consul_error_set(err, path, "error loading token file %s: out of memory", path);
		ostiary_config_secret_wipe(token);
		free(token);
		token = NULL;
	}
	if (!token)
		return -1;
	if (!*token) {
		free(token);
		token = NULL;
	}
	config_set_token(cfg, token);
	free(cfg->token_file);
	cfg->token_file = source;
	return 0;
}

void
consul_config_warn_token_file_mode(const char *path, consul_warn_fn warn, void *warn_arg)
{
	struct stat st;
	char message[PATH_MAX + 128];

	if (path == NULL || warn == NULL || stat(path, &st) < 0 || (st.st_mode & 0044) == 0)
		return;
	snprintf(message, sizeof(message),
	         "token file %s is readable by %s (mode %04o): anyone who can read it can act "
	         "with the token; chmod 600 it",
	         path, st.st_mode & 0004 ? "everyone" : "its group",
	         (unsigned)(st.st_mode & 07777));
	warn(warn_arg, message);
}

/* ------------------------------------------------------------- environment */

/* Empty variables count as unset, as in api/api.go. */
static const char *
config_env(consul_getenv_fn getenv_fn, const char *name)
{
	const char *value = getenv_fn(name);

	return value && *value ? value : NULL;
}

static const char *
config_process_getenv(const char *name)
{
	return getenv(name);
}

/* Go's strconv.ParseBool. */
static int
config_parse_bool(const char *text, bool *out)
{
	static const char *const truths[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const lies[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
		if (strcmp(text, truths[i]) == 0 || strcmp(text, lies[i]) == 0) {
			*out = strcmp(text, truths[i]) == 0;
			return 0;
		}
	}
	return -1;
}

static void config_warn(consul_warn_fn warn, void *arg, const char *fmt, ...) LIB_PRINTF(3, 4);

static void
config_warn(consul_warn_fn warn, void *arg, const char *fmt, ...)
{
	char message[256];
	va_list ap;

	if (!warn)
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	warn(arg, message);
}

static int
config_env_string(char **field, consul_getenv_fn getenv_fn, const char *name, consul_error *err)
{
	const char *value = config_env(getenv_fn, name);
	char *copy;

	if (!value)
		return 0;
	if (!(copy = strdup(value)))
		return config_out_of_memory(err, name);
	free(*field);
	*field = copy;
	return 0;
}

/* CONSUL_HTTP_TOKEN_FILE wins over CONSUL_HTTP_TOKEN (api/api.go NewClient). */
static int
config_env_token(consul_config *cfg, consul_getenv_fn getenv_fn, consul_error *err)
{
	const char *file = config_env(getenv_fn, "CONSUL_HTTP_TOKEN_FILE"), *token;
	char *copy;

	if (file) {
		if (consul_config_load_token_file(cfg, file, err) == 0)
			return 0;
		if (err)
			snprintf(err->source, sizeof err->source, "CONSUL_HTTP_TOKEN_FILE");
		return -1;
	}
	token = config_env(getenv_fn, "CONSUL_HTTP_TOKEN");
	if (!token)
		return 0;
	if (!(copy = strdup(token)))
		return config_out_of_memory(err, "CONSUL_HTTP_TOKEN");
	config_set_token(cfg, copy);
	free(cfg->token_file); /* the token no longer comes from a file */
	cfg->token_file = NULL;
	return 0;
}

/* SetupTLSConfig: a ":port" after the last ']' is dropped (net.SplitHostPort),
 * and so are the brackets of an IPv6 literal. */
static int
config_set_server_name(consul_config *cfg, const char *value, consul_error *err)
{
	const char *colon = strrchr(value, ':'), *bracket = strrchr(value, ']');
	const char *start = value;
	size_t len = strlen(value);
	char *name;

	if (colon && (!bracket || colon > bracket))
		len = (size_t)(colon - value);
	if (len >= 2 && value[0] == '[' && value[len - 1] == ']') {
		start++;
		len -= 2;
	} else if (memchr(value, ':', len)) {
		return consul_error_set(err, "CONSUL_TLS_SERVER_NAME",
		                        "invalid server name \"%s\": write an IPv6 address in "
		                        "brackets, e.g. [::1]:8501",
		                        value);
	}
	if (!len || memchr(start, '[', len) || memchr(start, ']', len))
		return consul_error_set(
		        err, "CONSUL_TLS_SERVER_NAME",
		        "invalid server name \"%s\" (use a host name, optionally with :port)",
		        value);
	if (!(name = strndup(start, len)))
		return config_out_of_memory(err, "CONSUL_TLS_SERVER_NAME");
	free(cfg->tls.server_name);
	cfg->tls.server_name = name;
	return 0;
}

static void
config_env_flags(consul_config *cfg, consul_getenv_fn getenv_fn, consul_warn_fn warn,
                 void *warn_arg)
{
	const char *value;
	bool flag;

	if ((value = config_env(getenv_fn, "CONSUL_HTTP_SSL"))) {
		if (config_parse_bool(value, &flag) < 0)
			config_warn(warn, warn_arg,
			            "could not parse CONSUL_HTTP_SSL=\"%s\" (use true or false); "
			            "using http",
			            value);
		else if (flag)
			cfg->https = true;
	}
	if ((value = config_env(getenv_fn, "CONSUL_HTTP_SSL_VERIFY"))) {
		/*
		 * Deliberate deviation from api/api.go, where an unparsable value
		 * turns verification off (ParseBool's false on error): a typo must
		 * not silently disable certificate checks.
		 */
		if (config_parse_bool(value, &flag) < 0)
			config_warn(warn, warn_arg,
			            "could not parse CONSUL_HTTP_SSL_VERIFY=\"%s\" (use true or "
			            "false); certificates are still verified",
			            value);
		else
			cfg->tls.verify = flag;
	}
}

static int
config_env_apply(consul_config *cfg, consul_getenv_fn getenv_fn, consul_warn_fn warn,
                 void *warn_arg, consul_error *err)
{
	const char *addr = config_env(getenv_fn, "CONSUL_HTTP_ADDR");
	const char *server_name = config_env(getenv_fn, "CONSUL_TLS_SERVER_NAME");

	/* Flags (CONSUL_HTTP_SSL) first, so that https:// in CONSUL_HTTP_ADDR
	 * still wins and http:// does not downgrade. */
	config_env_flags(cfg, getenv_fn, warn, warn_arg);
	if (addr && consul_config_set_addr(cfg, addr, "CONSUL_HTTP_ADDR", err) < 0)
		return -1;
	if (config_env_token(cfg, getenv_fn, err) < 0)
		return -1;
	if (cfg->token_file && !cfg->token)
		config_warn(warn, warn_arg,
		            "CONSUL_HTTP_TOKEN_FILE %s is empty: requests carry no ACL token",
		            cfg->token_file);
	if (config_env_string(&cfg->ns, getenv_fn, "CONSUL_NAMESPACE", err) < 0 ||
	    config_env_string(&cfg->partition, getenv_fn, "CONSUL_PARTITION", err) < 0 ||
	    config_env_string(&cfg->http_auth, getenv_fn, "CONSUL_HTTP_AUTH", err) < 0 ||
	    config_env_string(&cfg->tls.ca_file, getenv_fn, "CONSUL_CACERT", err) < 0 ||
	    config_env_string(&cfg->tls.ca_path, getenv_fn, "CONSUL_CAPATH", err) < 0 ||
	    config_env_string(&cfg->tls.cert_file, getenv_fn, "CONSUL_CLIENT_CERT", err) < 0 ||
	    config_env_string(&cfg->tls.key_file, getenv_fn, "CONSUL_CLIENT_KEY", err) < 0)
		return -1;
	if (server_name && config_set_server_name(cfg, server_name, err) < 0)
		return -1;
	if (!cfg->tls.cert_file != !cfg->tls.key_file)
		return consul_error_set(
		        err, cfg->tls.cert_file ? "CONSUL_CLIENT_CERT" : "CONSUL_CLIENT_KEY",
		        CONFIG_CERT_PAIR_TEXT);
	return 0;
}

/* Works on a copy so that cfg is untouched when a variable is invalid. */
int
consul_config_from_env(consul_config *cfg, consul_getenv_fn getenv_fn, consul_warn_fn warn,
                       void *warn_arg, consul_error *err)
{
	consul_config next;

	if (consul_config_copy(&next, cfg) < 0)
		return config_out_of_memory(err, "environment");
	if (config_env_apply(&next, getenv_fn ? getenv_fn : config_process_getenv, warn, warn_arg,
	                     err) < 0) {
		consul_config_free(&next);
		return -1;
	}
	consul_config_free(cfg);
	*cfg = next;
	return 0;
}

const char *const *
consul_config_env_names(void)
{
	static const char *const names[] = {
		"CONSUL_HTTP_ADDR",       "CONSUL_HTTP_TOKEN",
		"CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_AUTH",
		"CONSUL_HTTP_SSL",        "CONSUL_HTTP_SSL_VERIFY",
		"CONSUL_CACERT",          "CONSUL_CAPATH",
		"CONSUL_CLIENT_CERT",     "CONSUL_CLIENT_KEY",
		"CONSUL_TLS_SERVER_NAME", "CONSUL_NAMESPACE",
		"CONSUL_PARTITION",       NULL,
	};

	return names;
}

char *
consul_config_describe(const consul_config *cfg)
{
	struct strbuf buf = { 0 };

	if (cfg->transport == CONSUL_TRANSPORT_UNIX)
		return ostiary_strbuf_format("unix://%s", cfg->socket_path ? cfg->socket_path : "");
	if (ostiary_config_append_origin(&buf, cfg, ostiary_config_host(cfg)) < 0 ||
	    ostiary_strbuf_printf(&buf, "%s", ostiary_config_path_prefix(cfg)) < 0) {
		ostiary_strbuf_free(&buf);
		return NULL;
	}
	return buf.data;
}
