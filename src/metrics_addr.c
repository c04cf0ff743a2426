/*
 * metrics_addr.c - the --metrics-addr syntax (see metrics.h), apart from
 * the server so that the configuration's parsers (and their fuzzers) need
 * neither libmicrohttpd nor the loop.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split addr into host and port; a bare port (or :port) is loopback's. */
int
metrics_addr_split(const char *addr, char *host, size_t hlen, char *port, size_t plen, char *why,
              size_t len)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr, *p = addr;
	size_t n;

	if (colon == NULL) {
		snprintf(host, hlen, "127.0.0.1");
	} else {
		p = colon + 1;
		n = (size_t)(colon - addr);
		if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']')
			h++, n -= 2;
		else if (memchr(addr, ':', n) != NULL) {
			snprintf(why, len, "an IPv6 address goes in brackets: [::1]:9100");
			return -1;
		}
		if (n >= hlen) {
			snprintf(why, len, "host name too long");
			return -1;
		}
		snprintf(host, hlen, "%.*s", (int)n, h);
		if (n == 0)
			snprintf(host, hlen, "127.0.0.1");
	}
	n = strspn(p, "0123456789");
	/* Port 0: any free one, which the log line names (for tests). */
	if (n == 0 || p[n] != '\0' || n > 5 || atoi(p) > 65535) {
		snprintf(why, len, "\"%s\" is not a port from 0 to 65535 (use HOST:PORT or PORT)",
		         p);
		return -1;
	}
	snprintf(port, plen, "%s", p);
	return 0;
}

int
metrics_addr_check(const char *addr, char *why, size_t len)
{
	char host[256], port[8];

	return metrics_addr_split(addr, host, sizeof(host), port, sizeof(port), why, len);
}
