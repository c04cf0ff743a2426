/*
 * Service and check definitions: the JSON the agent's strict decoder accepts
 * (agent/structs/service_definition.go, check_type.go, check_definition.go),
 * and the agent's validation rules checked locally.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* agent/structs/structs.go: metaMaxKeyPairs, metaKeyMaxLength, ... */
#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VALUE_MAX 512
#define META_RESERVED_PREFIX "consul-"
#define META_KEY_RULE "use 1-128 characters from a-z, A-Z, 0-9, _ and -"

/* ---------------------------------------------------------------- statuses */

static const char *const definition_status_names[] = {
	[CONSUL_PASSING] = "passing",
	[CONSUL_WARNING] = "warning",
	[CONSUL_CRITICAL] = "critical",
};

const char *
consul_status_name(enum consul_status status)
{
	if ((unsigned)status >= sizeof definition_status_names / sizeof definition_status_names[0])
		return "unknown";
	return definition_status_names[status];
}

int
consul_status_parse(const char *name, enum consul_status *out)
{
	for (unsigned i = 0;
	     name && i < sizeof definition_status_names / sizeof definition_status_names[0]; i++) {
		if (strcmp(name, definition_status_names[i]) == 0) {
			*out = (enum consul_status)i;
			return 0;
		}
	}
	return -1;
}

static bool
definition_status_valid(enum consul_status status)
{
	return (unsigned)status <= CONSUL_CRITICAL;
}

/* -------------------------------------------------------------------- UTF-8 */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs or
 * surrogates, at most U+10FFFF), or 0 if there is none.  Stops at NUL. */
static size_t
definition_utf8_len(const unsigned char *p)
{
	uint32_t cp, min;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool
definition_utf8_valid(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p) {
		size_t n = definition_utf8_len(p);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

json_t *
ostiary_definition_json_string(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	struct strbuf buf = { 0 };
	json_t *json;

	if (!text)
		return NULL;
	if (definition_utf8_valid(text))
		return json_string(text);
	while (*p) {
		size_t n = definition_utf8_len(p);
		int rc = n ? ostiary_strbuf_append(&buf, p, n)
		           : ostiary_strbuf_append(&buf, "\xef\xbf\xbd", 3);

		if (rc < 0) {
			ostiary_strbuf_free(&buf);
			return NULL;
		}
		p += n ? n : 1;
	}
	json = json_string(buf.data);
	ostiary_strbuf_free(&buf);
	return json;
}

/* --------------------------------------------------------------------- JSON */

/* The set_* helpers omit absent values (NULL, "", 0) and return -1 only
 * when out of memory. */
static int
definition_set_string(json_t *obj, const char *key, const char *value)
{
	if (!value || !*value)
		return 0;
	return json_object_set_new(obj, key, ostiary_definition_json_string(value));
}

static int
definition_set_duration(json_t *obj, const char *key, int64_t ms)
{
	char text[48];

	/* Always a Go duration string: a JSON number would mean nanoseconds. */
	if (ms <= 0)
		return 0;
	consul_duration_format(ms, text, sizeof text);
	return json_object_set_new(obj, key, json_string(text));
}

static json_t *
definition_check_json(const consul_check_def *check, bool embedded)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	/* The agent's strict decoder wants "CheckID" inside a service
	 * (structs.CheckType) but "ID" for /v1/agent/check/register. */
	if (definition_set_string(obj, embedded ? "CheckID" : "ID", check->id) < 0 ||
	    definition_set_string(obj, "Name", check->name) < 0 ||
	    definition_set_string(obj, "Notes", check->notes) < 0 ||
	    (!embedded && definition_set_string(obj, "ServiceID", check->service_id) < 0) ||
	    definition_set_duration(obj, "TTL", check->ttl_ms) < 0 ||
	    (check->has_status &&
	     definition_set_string(obj, "Status", consul_status_name(check->status)) < 0) ||
	    definition_set_duration(obj, "DeregisterCriticalServiceAfter",
	                            check->deregister_after_ms) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
definition_tags_json(const consul_service *svc)
{
	json_t *tags = json_array();

	for (size_t i = 0; tags && i < svc->ntags; i++) {
		if (json_array_append_new(tags, ostiary_definition_json_string(svc->tags[i])) < 0) {
			json_decref(tags);
			return NULL;
		}
	}
	return tags;
}

static json_t *
definition_meta_json(const consul_service *svc)
{
	json_t *meta = json_object();

	for (size_t i = 0; meta && i < svc->nmeta; i++) {
		const consul_meta *kv = &svc->meta[i];

		if (json_object_set_new(
		            meta, kv->key,
		            ostiary_definition_json_string(kv->value ? kv->value : "")) < 0) {
			json_decref(meta);
			return NULL;
		}
	}
	return meta;
}

/* "Check" for a single check, "Checks" for several: both are accepted. */
static int
definition_set_checks(json_t *obj, const consul_service *svc)
{
	json_t *checks;

	if (svc->nchecks == 1)
		return json_object_set_new(obj, "Check",
		                           definition_check_json(&svc->checks[0], true));
	checks = json_array();
	for (size_t i = 0; checks && i < svc->nchecks; i++) {
		json_t *check = definition_check_json(&svc->checks[i], true);

		if (json_array_append_new(checks, check) < 0) {
			json_decref(checks);
			return -1;
		}
	}
	return json_object_set_new(obj, "Checks", checks);
}

/* {"lan": {"Address": "10.0.0.5", "Port": 80}, ...}: structs.ServiceAddress. */
static json_t *
definition_tagged_json(const consul_service *svc)
{
	json_t *tagged = json_object();

	for (size_t i = 0; tagged && i < svc->ntagged_addresses; i++) {
		const consul_tagged_address *ta = &svc->tagged_addresses[i];
		json_t *addr = json_object();

		if (!addr || definition_set_string(addr, "Address", ta->address) < 0 ||
		    (ta->port > 0 &&
		     json_object_set_new(addr, "Port", json_integer(ta->port)) < 0) ||
		    json_object_set_new(tagged, ta->name, addr) < 0) {
			json_decref(tagged);
			return NULL;
		}
	}
	return tagged;
}

static json_t *
definition_weights_json(const consul_service *svc)
{
	return json_pack("{s:i, s:i}", "Passing", svc->weight_passing, "Warning",
	                 svc->weight_warning);
}

json_t *
consul_service_to_json(const consul_service *svc)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	/* Absent values are omitted so the agent applies its own defaults
	 * (Weights {1, 1}, EnableTagOverride false). */
	if (definition_set_string(obj, "ID", svc->id) < 0 ||
	    definition_set_string(obj, "Name", svc->name) < 0 ||
	    (svc->ntags && json_object_set_new(obj, "Tags", definition_tags_json(svc)) < 0) ||
	    definition_set_string(obj, "Address", svc->address) < 0 ||
	    (svc->port > 0 && json_object_set_new(obj, "Port", json_integer(svc->port)) < 0) ||
	    (svc->nmeta && json_object_set_new(obj, "Meta", definition_meta_json(svc)) < 0) ||
	    (svc->ntagged_addresses &&
	     json_object_set_new(obj, "TaggedAddresses", definition_tagged_json(svc)) < 0) ||
	    (svc->has_weights &&
	     json_object_set_new(obj, "Weights", definition_weights_json(svc)) < 0) ||
	    (svc->enable_tag_override &&
	     json_object_set_new(obj, "EnableTagOverride", json_true()) < 0) ||
	    (svc->nchecks && definition_set_checks(obj, svc) < 0)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *
consul_check_def_to_json(const consul_check_def *check)
{
	return definition_check_json(check, false);
}

/* --------------------------------------------------------------- validation */

static int
definition_require_utf8(const char *value, const char *field, consul_error *err)
{
	if (value && !definition_utf8_valid(value))
		return consul_error_set(err, field, "%s is not valid UTF-8", field);
	return 0;
}

/*
 * agent.go rejects exactly "0.0.0.0", "::" and "[::]" (lib/ipaddr IsAny);
 * other spellings of the unspecified address are refused as well, since
 * they are just as unusable for reaching the service.
 */
static bool
definition_address_unspecified(const char *address)
{
	char text[INET6_ADDRSTRLEN + 1];
	size_t len = strlen(address);
	struct in6_addr v6;
	struct in_addr v4;

	if (len >= 2 && address[0] == '[' && address[len - 1] == ']') {
		address++;
		len -= 2;
	}
	if (len >= sizeof text)
		return false;
	memcpy(text, address, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, &v4) == 1)
		return v4.s_addr == 0;
	if (inet_pton(AF_INET6, text, &v6) != 1)
		return false;
	if (IN6_IS_ADDR_UNSPECIFIED(&v6))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&v6) && !v6.s6_addr[12] && !v6.s6_addr[13] && !v6.s6_addr[14] &&
	       !v6.s6_addr[15];
}

static bool
definition_meta_key_chars(const char *key)
{
	for (; *key; key++) {
		char c = *key;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* validateMetaPair in agent/structs/structs.go, in the same order. */
static int
definition_validate_meta_pair(const consul_meta *kv, consul_error *err)
{
	const char *key = kv->key ? kv->key : "";
	const char *value = kv->value ? kv->value : "";

	if (!*key)
		return consul_error_set(err, "Meta",
		                        "Meta key cannot be blank (" META_KEY_RULE ")");
	if (!definition_meta_key_chars(key))
		return consul_error_set(
		        err, "Meta",
		        "Meta key \"%.64s\" contains invalid characters (" META_KEY_RULE ")", key);
	if (strlen(key) > META_KEY_MAX)
		return consul_error_set(
		        err, "Meta", "Meta key \"%.64s...\" is too long (" META_KEY_RULE ")", key);
	if (strncmp(key, META_RESERVED_PREFIX, strlen(META_RESERVED_PREFIX)) == 0)
		return consul_error_set(err, "Meta",
		                        "Meta key \"%.64s\": the prefix \"" META_RESERVED_PREFIX
		                        "\" is reserved for Consul's own use (choose another key)",
		                        key);
	if (strlen(value) > META_VALUE_MAX)
		return consul_error_set(err, "Meta",
		                        "Meta value of \"%s\" is too long (%zu bytes; at most %d)",
		                        key, strlen(value), META_VALUE_MAX);
	return definition_require_utf8(value, "Meta", err);
}

static int
definition_validate_meta(const consul_service *svc, consul_error *err)
{
	if (svc->nmeta > META_MAX_PAIRS)
		return consul_error_set(err, "Meta", "Meta has %zu pairs; at most %d are allowed",
		                        svc->nmeta, META_MAX_PAIRS);
	for (size_t i = 0; i < svc->nmeta; i++) {
		if (definition_validate_meta_pair(&svc->meta[i], err) < 0)
			return -1;
		/* A JSON object keeps one of two equal keys: refuse the ambiguity. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(svc->meta[i].key, svc->meta[j].key) == 0)
				return consul_error_set(err, "Meta", "duplicate Meta key \"%s\"",
				                        svc->meta[i].key);
		}
	}
	return 0;
}

/*
 * "." and ".." stay as they are when percent-encoded and are removed from
 * URL paths as dot segments (RFC 3986 5.2.4): /service/deregister/.. would
 * reach another endpoint, so the agent could never be told to update or
 * deregister such an ID.  (Found by tests/fuzz/fuzz_consul_json.c.)
 */
static int
definition_validate_path_id(const char *id, const char *field, consul_error *err)
{
	if (id != NULL && (strcmp(id, ".") == 0 || strcmp(id, "..") == 0))
		return consul_error_set(err, field,
		                        "%s \"%s\" cannot be used: URL paths drop it as a dot "
		                        "segment, so it could never be updated or deregistered",
		                        field, id);
	return 0;
}

/* check_type.go Validate for a TTL check, plus what the agent would otherwise
 * default or reject later (empty IDs and names, bad Status). */
static int
definition_validate_check(const consul_check_def *check, size_t index, consul_error *err)
{
	char label[160];

	if (check->id)
		snprintf(label, sizeof label, "check \"%s\"", check->id);
	else
		snprintf(label, sizeof label, "check #%zu", index + 1);
	if (check->id && !*check->id)
		return consul_error_set(err, "CheckID",
		                        "check #%zu: CheckID must not be empty (omit it to let the "
		                        "agent choose one)",
		                        index + 1);
	if (definition_validate_path_id(check->id, "CheckID", err) < 0)
		return -1;
	if (check->name && !*check->name)
		return consul_error_set(
		        err, "Name",
		        "%s: Name must not be empty (omit it to let the agent choose one)", label);
	if (check->ttl_ms <= 0)
		return consul_error_set(err, "TTL", "%s: TTL must be > 0 for TTL checks (e.g. 10s)",
		                        label);
	if (check->deregister_after_ms < 0)
		return consul_error_set(err, "DeregisterCriticalServiceAfter",
		                        "%s: DeregisterCriticalServiceAfter must be 0 (never) or a "
		                        "positive duration",
		                        label);
	if (check->has_status && !definition_status_valid(check->status))
		return consul_error_set(err, "Status",
		                        "%s: Status must be passing, warning or critical", label);
	if (definition_require_utf8(check->id, "CheckID", err) < 0 ||
	    definition_require_utf8(check->name, "Name", err) < 0 ||
	    definition_require_utf8(check->notes, "Notes", err) < 0)
		return -1;
	return 0;
}

static int
definition_validate_checks(const consul_service *svc, consul_error *err)
{
	for (size_t i = 0; i < svc->nchecks; i++) {
		const char *id = svc->checks[i].id;

		if (definition_validate_check(&svc->checks[i], i, err) < 0)
			return -1;
		for (size_t j = 0; id && j < i; j++) {
			if (svc->checks[j].id && strcmp(id, svc->checks[j].id) == 0)
				return consul_error_set(
				        err, "CheckID",
				        "duplicate CheckID \"%s\": each check needs its own ID",
				        id);
		}
	}
	return 0;
}

/* The address as Go's net.ParseIP sees it: 4 for an IPv4 literal or an
 * IPv4-mapped IPv6 one (To4() != nil), 6 for other IPv6 literals, 0 when
 * it is not an IP literal at all. */
static int
definition_ip_version(const char *address)
{
	struct in6_addr v6;
	struct in_addr v4;

	if (inet_pton(AF_INET, address, &v4) == 1)
		return 4;
	if (inet_pton(AF_INET6, address, &v6) != 1)
		return 0;
	return IN6_IS_ADDR_V4MAPPED(&v6) ? 4 : 6;
}

/* The IP version a tagged address name demands, or 0 for free-form names. */
static int
definition_tagged_version(const char *name)
{
	if (strcmp(name, "lan_ipv4") == 0 || strcmp(name, "wan_ipv4") == 0)
		return 4;
	if (strcmp(name, "lan_ipv6") == 0 || strcmp(name, "wan_ipv6") == 0)
		return 6;
	return 0;
}

/*
 * agent.go validateService.  The agent tests lan_ipv6 twice and never
 * wan_ipv6 (a copy-and-paste slip); wan_ipv6 is held to the IPv6 rule here
 * all the same, since anything else in it would be wrong for DNS.
 */
static int
definition_validate_tagged(const consul_service *svc, consul_error *err)
{
	for (size_t i = 0; i < svc->ntagged_addresses; i++) {
		const consul_tagged_address *ta = &svc->tagged_addresses[i];
		const char *address = ta->address ? ta->address : "";
		int version;

		if (!ta->name || !*ta->name)
			return consul_error_set(err, "TaggedAddresses",
			                        "tagged address #%zu has no name (e.g. lan, wan)",
			                        i + 1);
		if (definition_require_utf8(ta->name, "TaggedAddresses", err) < 0 ||
		    definition_require_utf8(address, "TaggedAddresses", err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (svc->tagged_addresses[j].name &&
			    strcmp(ta->name, svc->tagged_addresses[j].name) == 0)
				return consul_error_set(err, "TaggedAddresses",
				                        "duplicate tagged address \"%s\"",
				                        ta->name);
		}
		if (!*address)
			return consul_error_set(err, "TaggedAddresses",
			                        "tagged address \"%s\" needs an address", ta->name);
		version = definition_tagged_version(ta->name);
		if (version && definition_ip_version(address) != version)
			return consul_error_set(
			        err, "TaggedAddresses",
			        "Service tagged address \"%s\" must be a valid ipv%d "
			        "address (not \"%s\")",
			        ta->name, version, address);
		if (ta->port < 0 || ta->port > 65535)
			return consul_error_set(
			        err, "TaggedAddresses",
			        "tagged address \"%s\": invalid port %d (use 1-65535, "
			        "or 0 for none)",
			        ta->name, ta->port);
	}
	return 0;
}

/* structs.go ValidateWeights, in the same order and words. */
static int
definition_validate_weights(const consul_service *svc, consul_error *err)
{
	if (!svc->has_weights)
		return 0;
	if (svc->weight_passing < 1)
		return consul_error_set(err, "Weights",
		                        "Invalid Weights: Passing must be greater than 0 (not %d)",
		                        svc->weight_passing);
	if (svc->weight_warning < 0)
		return consul_error_set(
		        err, "Weights",
		        "Invalid Weights: Warning must be greater or equal than 0 (not %d)",
		        svc->weight_warning);
	if (svc->weight_passing > 65535 || svc->weight_warning > 65535)
		return consul_error_set(err, "Weights",
		                        "Invalid Weights: DNS Weight must be between 0 and 65535 "
		                        "(Passing %d, Warning %d)",
		                        svc->weight_passing, svc->weight_warning);
	return 0;
}

int
consul_service_validate(const consul_service *svc, consul_error *err)
{
	if (!svc->name || !*svc->name)
		return consul_error_set(err, "Name",
		                        "Missing service name (a service needs a non-empty name)");
	if (definition_require_utf8(svc->name, "Name", err) < 0 ||
	    definition_require_utf8(svc->id, "ID", err) < 0 ||
	    definition_require_utf8(svc->address, "Address", err) < 0)
		return -1;
	/* Without an ID the agent uses the name as the ID. */
	if (definition_validate_path_id(svc->id ? svc->id : svc->name, "ID", err) < 0)
		return -1;
	for (size_t i = 0; i < svc->ntags; i++) {
		if (!svc->tags[i])
			return consul_error_set(err, "Tags", "tag #%zu is missing", i + 1);
		if (definition_require_utf8(svc->tags[i], "Tags", err) < 0)
			return -1;
	}
	if (svc->address && definition_address_unspecified(svc->address))
		return consul_error_set(
		        err, "Address",
		        "Invalid service address \"%s\": an unspecified address (0.0.0.0 or ::) "
		        "cannot be reached; give the service's real address or none",
		        svc->address);
	if (svc->port < 0 || svc->port > 65535)
		return consul_error_set(err, "Port", "invalid port %d (use 1-65535, or 0 for none)",
		                        svc->port);
	if (definition_validate_meta(svc, err) < 0 || definition_validate_tagged(svc, err) < 0 ||
	    definition_validate_weights(svc, err) < 0)
		return -1;
	return definition_validate_checks(svc, err);
}
