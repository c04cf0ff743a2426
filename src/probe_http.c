/*
 * probe_http.c - HTTP checks, as Consul's CheckHTTP (agent/checks/check.go):
 * 2xx passing, 429 warning, anything else or no answer critical, output
 * "HTTP GET <url>: 200 OK Output: <body>".
 *
 * What a check sends is worked out once, when the probe is made; a run
 * borrows an easy handle from a small pool shared by every HTTP probe,
 * sets the check's options on it and runs it on the loop's multi handle
 * (probe_http_pool).  The request is the one Consul's Go client
 * sends: its User-Agent and Accept headers (unless the check sets them),
 * the check's headers, method and body, no Content-Type or Expect of
 * curl's own, a fresh connection each time (DisableKeepAlives), redirects
 * followed as Go's http.Client does (it gives up on the 10th: "stopped
 * after 10 redirects").  Unlike Go's ProxyFromEnvironment, no proxy from
 * the environment: a check talks to its service directly.
 *
 * Errors read like the Go error Consul puts in the output, a *url.Error:
 *   Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused
 *   Get "http://10.0.0.1/": context deadline exceeded (Client.Timeout
 *       exceeded while awaiting headers)
 * Errors Go has no close equivalent for carry libcurl's text after the
 * same `Get "<url>": ` prefix.
 */
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "probe_internal.h"
#include "util.h"

/* Go's defaultCheckRedirect refuses once 10 requests were made: 9 redirects. */
#define PROBE_HTTP_MAX_REDIRECTS 9

struct probe_http {
	struct probe *probe;
	struct probe_http_run *run; /* while one is in flight */
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	char *url;     /* as configured: what outputs show */
	char *target;  /* what curl is given, when not url (tls_server_name) */
	char *method;  /* as configured, "GET" by default */
	char *op;      /* Go's url.Error Op: "Get", "Post" */
	char *body;    /* sent as it is, NULL for none */
	char *ca_file; /* NULL for the system's */
	const char *custom; /* CURLOPT_CUSTOMREQUEST, NULL for curl's own */
	long timeout_ms;
	bool follow;
	bool head;       /* CURLOPT_NOBODY */
	bool gzip;       /* ask for gzip and decode it */
	bool user_agent; /* send Consul's User-Agent */
	bool verify;
};

/*
 * A run in flight: an easy handle and what the callbacks gather.  Only a
 * few runs are in flight at once (checks are spread over their interval),
 * so these are pooled rather than kept per probe: an easy handle carries
 * some 20 KB of buffers and state, 20 MB for 1,000 checks.
 */
struct probe_http_run {
	struct probe_http *h;
	CURL *easy;
	struct probe_ring body;
	char status[128];   /* Go's resp.Status of the last response */
	char location[512]; /* its Location header, as sent */
	char dialed[INET6_ADDRSTRLEN + IF_NAMESIZE + 16]; /* first address tried */
	bool headers_done;
	bool body_cut; /* the body went on past the cap and was not read further */
	char errbuf[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------------ status text */

/* Go's net/http StatusText, for HTTP/2 (no reason phrase on the wire). */
static const struct {
	int code;
	const char *text;
} probe_http_texts[] = {
	{ 100, "Continue" },
	{ 101, "Switching Protocols" },
	{ 102, "Processing" },
	{ 103, "Early Hints" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 203, "Non-Authoritative Information" },
	{ 204, "No Content" },
	{ 205, "Reset Content" },
	{ 206, "Partial Content" },
	{ 207, "Multi-Status" },
	{ 208, "Already Reported" },
	{ 226, "IM Used" },
	{ 300, "Multiple Choices" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 305, "Use Proxy" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 402, "Payment Required" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 410, "Gone" },
	{ 411, "Length Required" },
	{ 412, "Precondition Failed" },
	{ 413, "Request Entity Too Large" },
	{ 414, "Request URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 416, "Requested Range Not Satisfiable" },
	{ 417, "Expectation Failed" },
	{ 418, "I'm a teapot" },
	{ 421, "Misdirected Request" },
	{ 422, "Unprocessable Entity" },
	{ 423, "Locked" },
	{ 424, "Failed Dependency" },
	{ 425, "Too Early" },
	{ 426, "Upgrade Required" },
	{ 428, "Precondition Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 451, "Unavailable For Legal Reasons" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
	{ 506, "Variant Also Negotiates" },
	{ 507, "Insufficient Storage" },
	{ 508, "Loop Detected" },
	{ 510, "Not Extended" },
	{ 511, "Network Authentication Required" },
};

static const char *
probe_http_status_text(long code)
{
	for (size_t i = 0; i < nitems(probe_http_texts); i++)
		if (probe_http_texts[i].code == code)
			return probe_http_texts[i].text;
	return "";
}

/*
 * resp.Status as Go fills it: for HTTP/1.x the status line after the
 * protocol, leading blanks trimmed ("200 OK", or "200" when the server
 * sends no reason); for HTTP/2 and 3 the code and Go's text for it.
 * Every status line overwrites the last, so after redirects and 1xx
 * interim answers the final response's is kept.
 */
static void
probe_http_status_line(struct probe_http_run *r, const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	size_t rest;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (sp == NULL || (size_t)(sp - line) >= len) {
		r->status[0] = '\0';
		return;
	}
	rest = len - (size_t)(sp - line);
	while (rest > 0 && *sp == ' ') {
		sp++;
		rest--;
	}
	if (strncmp(line, "HTTP/1", 6) != 0) {
		long code = strtol(sp, NULL, 10);
		snprintf(r->status, sizeof(r->status), "%03ld %s", code,
		         probe_http_status_text(code));
		return;
	}
	if (rest >= sizeof(r->status))
		rest = sizeof(r->status) - 1;
	memcpy(r->status, sp, rest);
	r->status[rest] = '\0';
}

static void
probe_http_location(struct probe_http_run *r, const char *value, size_t len)
{
	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' ||
	                   value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len >= sizeof(r->location))
		len = sizeof(r->location) - 1;
	memcpy(r->location, value, len);
	r->location[len] = '\0';
}

static size_t
probe_http_header(char *data, size_t size, size_t n, void *arg)
{
	struct probe_http_run *r = arg;
	size_t len = size * n;

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		probe_http_status_line(r, data, len);
		r->location[0] = '\0';
		r->headers_done = false;
		/* The output is the last response's body, not a redirect's. */
		probe_ring_reset(&r->body);
	} else if (len > 0 && (data[0] == '\r' || data[0] == '\n')) {
		r->headers_done = true;
	} else if (len > 9 && strncasecmp(data, "Location:", 9) == 0) {
		probe_http_location(r, data + 9, len - 9);
	}
	return len;
}

/*
 * libcurl 7.88 reports no address for a connection that failed, and Go's
 * error names it: note the first one tried.  Opening the socket here also
 * makes it close-on-exec, so exec probes never inherit it.
 */
static curl_socket_t
probe_http_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
	struct probe_http_run *r = arg;
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (r->dialed[0] == '\0' && purpose == CURLSOCKTYPE_IPCXN &&
	    getnameinfo(&address->addr, address->addrlen, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		probe_join_host_port(host, (unsigned)strtoul(serv, NULL, 10), r->dialed,
		                     sizeof(r->dialed));
	return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/* True while the answer is a redirect that will be followed: its body is
 * read to the end, so the connection can carry the next request. */
static bool
probe_http_redirecting(struct probe_http_run *r)
{
	long code = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	return r->h->follow && code >= 300 && code <= 399;
}

/*
 * The body, bounded.  Consul judges an HTTP check by its status code and
 * shows at most the output cap of the body; it reads on to the end (its
 * circbuf keeps the tail), but a target streaming without end would then
 * cost a core until the timeout.  So only the first cap bytes are read:
 * past them the transfer ends with a write error after the headers, which
 * counts as an answer (probe_http_answered) with what was read.  The body
 * of a redirect that will be followed is read to the end as before.
 */
static size_t
probe_http_write(char *data, size_t size, size_t n, void *arg)
{
	struct probe_http_run *r = arg;
	size_t len = size * n, room;

	if (probe_http_redirecting(r)) {
		probe_ring_write(&r->body, data, len);
		return len;
	}
	room = r->body.total < r->body.cap ? r->body.cap - (size_t)r->body.total : 0;
	probe_ring_write(&r->body, data, len < room ? len : room);
	if (len <= room)
		return len;
	r->body_cut = true;
	return 0;
}

/* ------------------------------------------------------------------ results */

/* A body that was not read to the end: its first bytes, said so, within
 * the cap. */
#define PROBE_HTTP_CUT_NOTE "Captured the first %zu bytes (not read further)\n...\n"
static char *
probe_http_cut_output(struct probe_http_run *r, const char *head)
{
	const char *body = probe_ring_data(&r->body);
	size_t fixed, kept;
	char *out;
	int n;

	/* The note is longest with every byte kept: room for that. */
	fixed = strlen(head) + (size_t)snprintf(NULL, 0, PROBE_HTTP_CUT_NOTE, r->body.len);
	kept = fixed < r->h->probe->max ? r->h->probe->max - fixed : 0;
	if (kept > r->body.len)
		kept = r->body.len;
	if ((out = malloc(fixed + kept + 1)) == NULL)
		return NULL;
	n = snprintf(out, fixed + 1, "%s" PROBE_HTTP_CUT_NOTE, head, kept);
	memcpy(out + n, body, kept);
	out[(size_t)n + kept] = '\0';
	return out;
}

static void
probe_http_response(struct probe_http_run *r, long code)
{
	char status[160], *head;
	enum consul_status result;
	int n;

	if (r->status[0] == '\0')
		snprintf(status, sizeof(status), "%03ld %s", code, probe_http_status_text(code));
	else
		snprintf(status, sizeof(status), "%s", r->status);
	if (code >= 200 && code <= 299)
		result = CONSUL_PASSING;
	else if (code == 429)
		result = CONSUL_WARNING; /* Too Many Requests (RFC 6585) */
	else
		result = CONSUL_CRITICAL;
	n = snprintf(NULL, 0, "HTTP %s %s: %s Output: ", r->h->method, r->h->url, status);
	if (n < 0 || (head = malloc((size_t)n + 1)) == NULL) {
		probe_result_owned(r->h->probe, result, NULL);
		return;
	}
	snprintf(head, (size_t)n + 1, "HTTP %s %s: %s Output: ", r->h->method, r->h->url, status);
	probe_result_owned(r->h->probe, result,
	                   r->body_cut ? probe_http_cut_output(r, head)
	                               : probe_output_compose(head, &r->body, r->h->probe->max));
	free(head);
}

/* Go's url.Error quotes the URL with %q and hides a password as "***". */
static void
probe_http_quote_url(const char *url, char *buf, size_t len)
{
	const char *scheme = strstr(url, "://");
	const char *auth = scheme ? scheme + 3 : url;
	size_t alen = strcspn(auth, "/?#"), used = 0;
	const char *at = NULL, *colon;

	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (len < 3)
		return;
	buf[used++] = '"';
	for (const char *p = url; *p != '\0' && used + 5 < len; p++) {
		if (colon != NULL && p == colon + 1) {
			memcpy(buf + used, "***", 3);
			used += 3;
			p = at - 1;
			continue;
		}
		if (*p == '"' || *p == '\\')
			buf[used++] = '\\';
		buf[used++] = *p;
	}
	buf[used++] = '"';
	buf[used] = '\0';
}

static void
probe_http_connect_error(struct probe_http_run *r, char *buf, size_t len)
{
	char text[64];
	long oserr = 0;

	curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
	if (r->dialed[0] == '\0' || oserr == 0) {
		snprintf(buf, len, "%s", r->errbuf[0] ? r->errbuf : "connection failed");
		return;
	}
	probe_go_errno((int)oserr, text, sizeof(text));
	snprintf(buf, len, "dial tcp %s: connect: %s", r->dialed, text);
}

static void
probe_http_lookup_error(struct probe_http_run *r, const char *url, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(buf, len, "dial tcp: lookup %s: no such host", host);
	else
		snprintf(buf, len, "%s", r->errbuf);
	curl_free(host);
	curl_url_cleanup(u);
}

/* The error part of Go's url.Error, for what the client could not do. */
static const char *
probe_http_go_error(struct probe_http_run *r, CURLcode result, const char *url, char *buf, size_t len)
{
	switch (result) {
	case CURLE_COULDNT_CONNECT:
		probe_http_connect_error(r, buf, len);
		return buf;
	case CURLE_OPERATION_TIMEDOUT:
		return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
	case CURLE_COULDNT_RESOLVE_HOST:
		probe_http_lookup_error(r, url, buf, len);
		return buf;
	case CURLE_TOO_MANY_REDIRECTS:
		return "stopped after 10 redirects";
	case CURLE_GOT_NOTHING:
		return "EOF";
	default:
		return r->errbuf[0] ? r->errbuf : curl_easy_strerror(result);
	}
}

/* No usable response: Consul reports the Go error alone. */
static void
probe_http_failure(struct probe_http_run *r, CURLcode result)
{
	char *url = NULL, *output = NULL, quoted[2048], detail[CURL_ERROR_SIZE + 128];
	const char *text;
	long redirects = 0;
	int n;

	curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_COUNT, &redirects);
	/* Go names the request that failed: after redirects not the first
	 * one; when it refused one more redirect, the Location it was given
	 * (client.go: ue.URL = loc). */
	if (result == CURLE_TOO_MANY_REDIRECTS && r->location[0] != '\0')
		url = r->location;
	else if (redirects > 0)
		curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
	if (url == NULL)
		url = r->h->url;
	text = probe_http_go_error(r, result, url, detail, sizeof(detail));
	probe_http_quote_url(url, quoted, sizeof(quoted));
	n = snprintf(NULL, 0, "%s %s: %s", r->h->op, quoted, text);
	if (n >= 0 && (output = malloc((size_t)n + 1)) != NULL)
		snprintf(output, (size_t)n + 1, "%s %s: %s", r->h->op, quoted, text);
	probe_result_owned(r->h->probe, CONSUL_CRITICAL, output);
	log_debug("check %s: %s: %s", r->h->probe->id, curl_easy_strerror(result), r->errbuf);
}

/*
 * A response whose headers arrived counts even when reading its body then
 * failed (a timeout mid-body, a reset): Consul only logs the io.Copy error
 * and reports the status with what it read.  A redirect about to be
 * followed is not such a response.
 */
static bool
probe_http_answered(struct probe_http_run *r, CURLcode result, long code)
{
	char *next = NULL;

	if (result == CURLE_OK)
		return true;
	if (!r->headers_done || code < 100 || result == CURLE_TOO_MANY_REDIRECTS)
		return false;
	curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &next);
	return !(r->h->follow && code >= 300 && code <= 399 && next != NULL);
}

/* ------------------------------------------------------------------- pool */

/*
 * Idle runs, shared by every HTTP probe (the loop runs on one thread).  A
 * burst of runs in flight, against a target that times out, grows it;
 * past PROBE_HTTP_IDLE_MAX the extras are freed as they come back.  The
 * last HTTP probe to go empties it.
 */
#define PROBE_HTTP_IDLE_MAX 8
static struct {
	struct probe_http_run *idle[PROBE_HTTP_IDLE_MAX];
	size_t nidle;
	size_t nprobes;
} probe_http_pool;

static void
probe_http_run_free(struct probe_http_run *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	probe_ring_free(&r->body);
	free(r);
}

static struct probe_http_run *
probe_http_run_new(void)
{
	struct probe_http_run *r = calloc(1, sizeof(*r));

	if (r != NULL && (r->easy = curl_easy_init()) == NULL) {
		free(r);
		r = NULL;
	}
	return r;
}

/* A run for h with nothing gathered yet, its options still to set; NULL
 * when out of memory. */
static struct probe_http_run *
probe_http_run_get(struct probe_http *h)
{
	struct probe_http_run *r;

	if (probe_http_pool.nidle > 0)
		r = probe_http_pool.idle[--probe_http_pool.nidle];
	else if ((r = probe_http_run_new()) == NULL)
		return NULL;
	/* The capture holds the check's output cap, whatever the last one's. */
	if (r->body.cap != h->probe->max) {
		probe_ring_free(&r->body);
		if (probe_ring_init(&r->body, h->probe->max) < 0) {
			probe_http_run_free(r);
			return NULL;
		}
	}
	r->h = h;
	probe_ring_reset(&r->body);
	r->body_cut = false;
	r->status[0] = '\0';
	r->location[0] = '\0';
	r->dialed[0] = '\0';
	r->headers_done = false;
	r->errbuf[0] = '\0';
	return r;
}

/* Back to the pool, off any multi handle.  curl_easy_reset drops the
 * check's options (and its pointers into h) but keeps the buffers. */
static void
probe_http_run_put(struct probe_http_run *r)
{
	r->h = NULL;
	if (probe_http_pool.nidle == PROBE_HTTP_IDLE_MAX) {
		probe_http_run_free(r);
		return;
	}
	curl_easy_reset(r->easy);
	probe_http_pool.idle[probe_http_pool.nidle++] = r;
}

static void
probe_http_pool_drain(void)
{
	while (probe_http_pool.nidle > 0)
		probe_http_run_free(probe_http_pool.idle[--probe_http_pool.nidle]);
}

/* ---------------------------------------------------------------- options */

static CURLcode
probe_http_transport(CURL *e, const struct probe_http *h)
{
	CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, h->target ? h->target : h->url);

	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	/* Consul: DisableKeepAlives.  A new connection each time, never one
	 * shared with another transfer on the multi handle (HTTP/2). */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	if (rc == CURLE_OK) /* no http_proxy & co. */
		rc = curl_easy_setopt(e, CURLOPT_PROXY, "");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, h->follow ? 1L : 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)PROBE_HTTP_MAX_REDIRECTS);
	return rc;
}

static CURLcode
probe_http_request(CURL *e, const struct probe_http *h)
{
	CURLcode rc = CURLE_OK;

	if (h->user_agent)
		rc = curl_easy_setopt(e, CURLOPT_USERAGENT, "Consul Health Check");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
	if (rc == CURLE_OK && h->head)
		rc = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (rc == CURLE_OK && h->body != NULL)
		rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(h->body));
	if (rc == CURLE_OK && h->body != NULL) /* h outlives the run: no copy */
		rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body);
	if (rc == CURLE_OK && h->custom != NULL)
		rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, h->custom);
	if (rc == CURLE_OK && h->gzip)
		rc = curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
	return rc;
}

static CURLcode
probe_http_tls(CURL *e, const struct probe_http *h)
{
	CURLcode rc;

	rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->verify ? 1L : 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->verify ? 2L : 0L);
	if (rc == CURLE_OK && h->ca_file != NULL)
		rc = curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	if (rc == CURLE_OK && h->connect_to != NULL)
		rc = curl_easy_setopt(e, CURLOPT_CONNECT_TO, h->connect_to);
	return rc;
}

static CURLcode
probe_http_callbacks(struct probe_http_run *r)
{
	CURL *e = r->easy;
	CURLcode rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);

	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, probe_http_header);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_http_write);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, probe_http_socket);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
	return rc;
}

/* The check's options on the run's handle, fresh from the pool. */
static CURLcode
probe_http_options(struct probe_http_run *r)
{
	CURLcode rc = probe_http_transport(r->easy, r->h);

	if (rc == CURLE_OK)
		rc = probe_http_request(r->easy, r->h);
	if (rc == CURLE_OK)
		rc = probe_http_tls(r->easy, r->h);
	if (rc == CURLE_OK)
		rc = probe_http_callbacks(r);
	return rc;
}

/* --------------------------------------------------------------------- runs */

static void
probe_http_done(ev_loop *loop, CURL *easy, CURLcode result, void *arg)
{
	struct probe_http_run *r = arg;
	long code = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (probe_http_answered(r, result, code))
		probe_http_response(r, code);
	else
		probe_http_failure(r, result);
	r->h->run = NULL;
	probe_http_run_put(r);
}

static int
probe_http_start(void *impl)
{
	struct probe_http *h = impl;
	struct probe_http_run *r = probe_http_run_get(h);

	if (r == NULL || probe_http_options(r) != CURLE_OK ||
	    ev_http_start(h->probe->loop, r->easy, probe_http_done, r) < 0) {
		if (r != NULL)
			probe_http_run_put(r);
		log_warnx("check %s: cannot start an HTTP request", h->probe->id);
		probe_result_static(h->probe, CONSUL_CRITICAL,
		                    "ostiary: cannot start the HTTP request (out of memory)");
		return -1;
	}
	h->run = r;
	return 0;
}

static void
probe_http_cancel(void *impl)
{
	struct probe_http *h = impl;

	if (h->run == NULL)
		return;
	ev_http_cancel(h->probe->loop, h->run->easy);
	probe_http_run_put(h->run);
	h->run = NULL;
}

/* ------------------------------------------------------------------- setup */

static void
probe_http_free(void *impl)
{
	struct probe_http *h = impl;

	probe_http_cancel(h);
	curl_slist_free_all(h->headers);
	curl_slist_free_all(h->connect_to);
	free(h->url);
	curl_free(h->target);
	free(h->method);
	free(h->op);
	free(h->body);
	free(h->ca_file);
	free(h);
	if (--probe_http_pool.nprobes == 0)
		probe_http_pool_drain();
}

static bool
probe_http_has_header(const struct check_conf *check, const char *name)
{
	for (size_t i = 0; i < check->nhttp_headers; i++)
		if (strcasecmp(check->http_headers[i].key, name) == 0)
			return true;
	return false;
}
static int
probe_http_add_header(struct probe_http *h, const char *line)
{
	struct curl_slist *list = curl_slist_append(h->headers, line);

	if (list == NULL)
		return -1;
	h->headers = list;
	return 0;
}
/* The check's headers, then what Go adds or leaves out by default. */
static int
probe_http_headers(struct probe_http *h, const struct check_conf *check)
{
	for (size_t i = 0; i < check->nhttp_headers; i++) {
		const struct conf_kv *kv = &check->http_headers[i];
		char *line;
		int rc;

		/* "Key:" would tell curl to drop the header; "Key;" sends it empty. */
		if (kv->value == NULL || kv->value[0] == '\0')
			rc = asprintf(&line, "%s;", kv->key);
		else
			rc = asprintf(&line, "%s: %s", kv->key, kv->value);
		if (rc < 0)
			return -1;
		rc = probe_http_add_header(h, line);
		free(line);
		if (rc < 0)
			return -1;
	}
	if (!probe_http_has_header(check, "Accept") &&
	    probe_http_add_header(h, "Accept: text/plain, text/*, */*") < 0)
		return -1;
	/* Go sends neither; curl would add them to requests with a body. */
	if (!probe_http_has_header(check, "Expect") && probe_http_add_header(h, "Expect:") < 0)
		return -1;
	if (!probe_http_has_header(check, "Content-Type") &&
	    probe_http_add_header(h, "Content-Type:") < 0)
		return -1;
	return 0;
}
/*
 * The body goes with any method, as Consul sends it
 * (strings.NewReader(c.Body)), but not with a HEAD.  POST goes as curl's
 * own POST so that a 301/302/303 turns it into a GET, as Go does; other
 * methods are sent verbatim (curl keeps a custom method across redirects
 * where Go would switch to GET: a known difference).
 */
static int
probe_http_method(struct probe_http *h, const struct check_conf *check)
{
	bool body = check->http_body != NULL && check->http_body[0] != '\0';
	bool post = strcmp(h->method, "POST") == 0;

	h->head = strcmp(h->method, "HEAD") == 0;
	if (h->head)
		return 0;
	if ((post || body) && (h->body = strdup(body ? check->http_body : "")) == NULL)
		return -1;
	if (!post && strcmp(h->method, "GET") != 0)
		h->custom = h->method;
	else if (!post && body)
		h->custom = "GET";
	return 0;
}

/*
 * tls_server_name (Consul's TLSServerName): verify and send SNI for that
 * name while connecting to the URL's host.  As in src/lib/request.c, the URL
 * names the server and CURLOPT_CONNECT_TO sends the connection to the real
 * host; a Host header keeps the URL's authority, as Go sends it.  Plain
 * http ignores it, as Consul does.
 */
static int
probe_http_server_name(struct probe_http *h, const struct check_conf *check, CURLU *u, char **url)
{
	char *host = NULL, *port = NULL, *given = NULL, *entry = NULL, *line = NULL;
	struct curl_slist *list = NULL;
	int rc = -1;

	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &given, 0) != CURLUE_OK)
		given = NULL;
	if (asprintf(&entry, "%s:%s:%s:%s", check->tls_server_name, port, host, port) < 0)
		entry = NULL;
	if (entry == NULL || (list = curl_slist_append(NULL, entry)) == NULL)
		goto out;
	h->connect_to = list;
	if (!probe_http_has_header(check, "Host")) {
		if (asprintf(&line, "Host: %s%s%s", host, given ? ":" : "", given ? given : "") < 0)
			line = NULL;
		if (line == NULL || probe_http_add_header(h, line) < 0)
			goto out;
	}
	if (curl_url_set(u, CURLUPART_HOST, check->tls_server_name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_free(given);
	free(entry);
	free(line);
	return rc;
}
/* Check the URL now (a bad one is a configuration error) and say where to
 * connect; *url is NULL when the configured one is used as it is. */
static int
probe_http_url(struct probe_http *h, const struct check_conf *check, char **url, consul_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	CURLUcode uc;
	int rc = 0;

	*url = NULL;
	if (u == NULL)
		return probe_error(err, check, "out of memory");
	if ((uc = curl_url_set(u, CURLUPART_URL, check->http_url, 0)) != CURLUE_OK)
		rc = probe_error(err, check, "http URL \"%s\": %s", check->http_url,
		                 curl_url_strerror(uc));
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	         (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		rc = probe_error(err, check,
		                 "http URL \"%s\": only http:// and https:// are supported",
		                 check->http_url);
	else if (check->tls_server_name != NULL && check->tls_server_name[0] != '\0' &&
	         strcmp(scheme, "https") == 0 && probe_http_server_name(h, check, u, url) < 0)
		rc = probe_error(err, check, "http URL \"%s\": cannot use tls_server_name \"%s\"",
		                 check->http_url, check->tls_server_name);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}
/* How the request is made, worked out once for every run. */
static int
probe_http_settings(struct probe_http *h, const struct check_conf *check)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	if (probe_http_method(h, check) < 0)
		return -1;
	h->user_agent = !probe_http_has_header(check, "User-Agent");
	/* Go's Transport asks for gzip and decodes it unless the request sets
	 * Accept-Encoding or Range itself, or is a HEAD. */
	h->gzip = (v->features & CURL_VERSION_LIBZ) && !h->head &&
	          !probe_http_has_header(check, "Accept-Encoding") &&
	          !probe_http_has_header(check, "Range");
	h->verify = !check->tls_skip_verify;
	if (check->tls_ca_file != NULL && check->tls_ca_file[0] != '\0' &&
	    (h->ca_file = strdup(check->tls_ca_file)) == NULL)
		return -1;
	return 0;
}

/* Set the options once now, so that what curl refuses is a configuration
 * error rather than a critical every run. */
static CURLcode
probe_http_try(struct probe_http *h)
{
	struct probe_http_run *r = probe_http_run_get(h);
	CURLcode rc;

	if (r == NULL)
		return CURLE_OUT_OF_MEMORY;
	rc = probe_http_options(r);
	probe_http_run_put(r);
	return rc;
}

/* A libcurl without an asynchronous resolver would block the loop on DNS. */
static void
probe_http_warn_sync_dns(const struct check_conf *check)
{
	static bool warned;

	if (warned || (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
		return;
	warned = true;
	log_warnx("check %s: this libcurl resolves names synchronously: HTTP checks on host "
	          "names may stall ostiary while DNS answers",
	          check->id);
}
/* "GET" -> "Get", as Go's urlErrorOp. */
static char *
probe_http_op(const char *method)
{
	char *op = strdup(method);

	for (char *p = op ? op + 1 : NULL; p != NULL && *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	return op;
}
static void *
probe_http_init(struct probe *probe, const struct check_conf *check, consul_error *err)
{
	struct probe_http *h = calloc(1, sizeof(*h));
	const char *method = check->http_method && *check->http_method ? check->http_method : "GET";
	int64_t timeout = check->timeout_ms > 0 ? check->timeout_ms : CONF_DEFAULT_NET_TIMEOUT_MS;
	CURLcode rc;

	if (h == NULL) {
		probe_error(err, check, "out of memory");
		return NULL;
	}
	probe_http_pool.nprobes++;
	h->probe = probe;
	h->follow = !check->disable_redirects;
	h->timeout_ms = (long)timeout;
	if (check->http_url == NULL || check->http_url[0] == '\0') {
		probe_error(err, check, "an http check needs a URL");
		goto fail;
	}
	if ((h->url = strdup(check->http_url)) == NULL || (h->method = strdup(method)) == NULL ||
	    (h->op = probe_http_op(method)) == NULL || probe_http_headers(h, check) < 0 ||
	    probe_http_settings(h, check) < 0) {
		probe_error(err, check, "out of memory");
		goto fail;
	}
	if (probe_http_url(h, check, &h->target, err) < 0)
		goto fail;
	probe_http_warn_sync_dns(check);
	if ((rc = probe_http_try(h)) != CURLE_OK) {
		probe_error(err, check, "http check: %s", curl_easy_strerror(rc));
		goto fail;
	}
	return h;
fail:
	probe_http_free(h);
	return NULL;
}

const struct probe_ops probe_http_ops = {
	.name = "http",
	.init = probe_http_init,
	.start = probe_http_start,
	.cancel = probe_http_cancel,
	.free = probe_http_free,
};
