/*++
 * NAME
 *	smtp_conf 3
 * SUMMARY
 *	the smtp channel's configuration: its [smtp] section and its route
 *	addresses
 * SYNOPSIS
 *	#include "relay/channel.h"
 *	#include "relay/chan_smtp.h"
 *
 *	extern const struct channel_ops chan_smtp_conf_ops;
 * DESCRIPTION
 *	The half of the smtp channel that the configuration loader
 *	(relay/conf.c) needs: the [smtp] keys and their parsing into struct
 *	chan_smtp_settings, and the check and normal form of a route's smtp
 *	address. The other half, the transfers (relay/chan_smtp.c), is
 *	built on libcurl; this one must never be: every program that reads
 *	a configuration (niftpmail-sendmail once per message under pipe(8),
 *	mailctl) links this file, and only mailrelayd links libcurl (its
 *	shared libraries cost a few milliseconds at each start).
 *
 *	chan_smtp_conf_ops carries the configuration fields of the smtp
 *	channel alone (section, keys, conf_load, conf_free): it is the smtp
 *	entry of the configuration loader's table (relay/channel.h), never
 *	of the channel table.
 *
 *	[smtp] keys: max_per_hop (4), tls = none|may|encrypt (STARTTLS;
 *	none), ca_file, verify (yes), username and password_file (AUTH),
 *	timeout (300 s, one server reply). The password is read when the
 *	configuration is loaded (the daemon may drop its privileges later)
 *	and wiped when it is freed.
 * DIAGNOSTICS
 *	Errors in [smtp] are reported with the file and line through
 *	conf_sect_err(); a bad route address is returned to the route
 *	parser with the reason.
 *--*/
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay/chan_smtp.h"
#include "relay/channel.h"
#include "relay/conf.h"
#include "util/alloc.h"
#include "util/strutil.h"

#define SMTP_CONF_ERRLEN	1024	/* read_secret()'s reason */

/* --- route addresses --------------------------------------------------------------- */

int chan_smtp_addr_split(const char *in, char *host, size_t hlen, unsigned *port,
	char *err, size_t errlen)
{
	const char *p = in, *h, *he, *colon;
	uint64_t n = CHAN_SMTP_PORT;
	size_t  len;

	if (strncmp(p, "tcp:", 4) == 0)
		p += 4;
	if (*p == '[') {
		h = p + 1;
		if ((he = strchr(h, ']')) == NULL) {
			snprintf(err, errlen, "smtp address '%.80s': no ']'", in);
			return -1;
		}
		colon = he[1] == ':' ? he + 1 : NULL;
		if (he[1] != '\0' && colon == NULL) {
			snprintf(err, errlen, "smtp address '%.80s': junk after ']'", in);
			return -1;
		}
	} else {
		h = p;
		colon = strrchr(p, ':');
		he = colon ? colon : p + strlen(p);
		if (colon != NULL && memchr(p, ':', (size_t) (colon - p)) != NULL) {
			snprintf(err, errlen, "smtp address '%.80s': put an IPv6 address in []",
			    in);
			return -1;
		}
	}
	len = (size_t) (he - h);
	if (len == 0 || len >= hlen || len > CHAN_SMTP_HOST_MAX) {
		snprintf(err, errlen, "smtp address '%.80s': %s host", in,
		    len == 0 ? "no" : "too long a");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) h[i];

		if (!(isalnum(c) || c == '.' || c == '-' || (c == ':' && *p == '['))) {
			snprintf(err, errlen, "smtp address '%.80s': bad host", in);
			return -1;
		}
	}
	if (colon != NULL && str_to_u64(colon + 1, 1, 65535, &n) < 0) {
		snprintf(err, errlen, "smtp address '%.80s': bad port", in);
		return -1;
	}
	memcpy(host, h, len);
	host[len] = '\0';
	*port = (unsigned) n;
	return 0;
}

char *chan_smtp_addr_norm(const char *in, char *err, size_t errlen)
{
	char    host[CHAN_SMTP_HOST_MAX + 1];
	unsigned port;

	if (chan_smtp_addr_split(in, host, sizeof(host), &port, err, errlen) < 0)
		return NULL;
	if (strchr(host, ':') != NULL)
		return xasprintf("tcp:[%s]:%u", host, port);
	return xasprintf("tcp:%s:%u", host, port);
}

/* --- the [smtp] section ------------------------------------------------------------ */

static const char *const smtp_keys[] = { "max_per_hop", "tls", "ca_file", "verify",
	"username", "password_file", "timeout", "big_endian", NULL };

void chan_smtp_settings_default(struct chan_smtp_settings *st)
{
	memset(st, 0, sizeof(*st));
	st->max_per_hop = CHAN_SMTP_PER_HOP;
	st->verify = 1;
	st->timeout_ms = CHAN_SMTP_TIMEOUT_MS;
	str_copy(st->big_endian, CHAN_SMTP_BIG_ENDIAN, sizeof(st->big_endian));
}

/* read_secret - the first line of path (new memory), or NULL with err */
static char *read_secret(const char *path, char *err, size_t errlen)
{
	char    b[CHAN_SMTP_SECRET_MAX + 2];
	ssize_t n;
	size_t  len = 0;
	int     fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "open '%s': %s", path, strerror(errno));
		return NULL;
	}
	while (len < sizeof(b) - 1) {
		n = read(fd, b + len, sizeof(b) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read '%s': %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t) n;
	}
	close(fd);
	b[len] = '\0';
	b[strcspn(b, "\r\n")] = '\0';
	if (strlen(b) > CHAN_SMTP_SECRET_MAX) {
		snprintf(err, errlen, "'%s': password longer than %d octets", path,
		    CHAN_SMTP_SECRET_MAX);
		return NULL;
	}
	return xstrdup(b);
}

/* smtp_conf_free - the settings and the password in them (wiped) */
static void smtp_conf_free(void *cfg)
{
	struct chan_smtp_settings *st = cfg;

	if (st == NULL)
		return;
	free(st->ca_file);
	free(st->username);
	if (st->password != NULL) {
		memset(st->password, 0, strlen(st->password));
		free(st->password);
	}
	free(st);
}

/* smtp_conf_load - the [smtp] section (absent: the defaults) */
static void *smtp_conf_load(struct conf_sect *s)
{
	struct chan_smtp_settings *st = xcalloc(1, sizeof(*st));
	const char *v;
	char    err[SMTP_CONF_ERRLEN];
	uint64_t n;

	chan_smtp_settings_default(st);
	if (conf_sect_num(s, "max_per_hop", 1, 64, &n) > 0)
		st->max_per_hop = (unsigned) n;
	(void) conf_sect_bool(s, "verify", &st->verify);
	(void) conf_sect_dur(s, "timeout", 1000, 3600 * 1000, &st->timeout_ms);
	if ((v = conf_sect_str(s, "tls")) != NULL) {
		if (str_ieq(v, "none"))
			st->tls = CHAN_SMTP_TLS_NONE;
		else if (str_ieq(v, "may"))
			st->tls = CHAN_SMTP_TLS_MAY;
		else if (str_ieq(v, "encrypt"))
			st->tls = CHAN_SMTP_TLS_ENCRYPT;
		else
			conf_sect_err(s, "tls", "'%.40s' is not none, may or encrypt", v);
	}
	if ((v = conf_sect_str(s, "big_endian")) != NULL) {
		/* top-level labels: letters, digits, '-', separated by spaces or commas */
		if (strlen(v) >= sizeof(st->big_endian)
		    || v[strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-, \t")] != '\0')
			conf_sect_err(s, "big_endian", "'%.80s' is not a list of top-level names"
			    " (letters, digits and '-', separated by spaces or commas, at most %zu"
			    " octets)", v, sizeof(st->big_endian) - 1);
		else
			str_copy(st->big_endian, v, sizeof(st->big_endian));
	}
	if ((v = conf_sect_str(s, "ca_file")) != NULL) {
		if (v[0] != '/')
			conf_sect_err(s, "ca_file", "'%.80s' is not an absolute path", v);
		else
			st->ca_file = xstrdup(v);
	}
	if ((v = conf_sect_str(s, "username")) != NULL && *v)
		st->username = xstrdup(v);
	if ((v = conf_sect_str(s, "password_file")) != NULL) {
		if (st->username == NULL)
			conf_sect_err(s, "password_file", "given without username");
		else if (v[0] != '/')
			conf_sect_err(s, "password_file", "'%.80s' is not an absolute path", v);
		else if ((st->password = read_secret(v, err, sizeof(err))) == NULL)
			conf_sect_err(s, "password_file", "%s", err);
	} else if (st->username != NULL)
		conf_sect_err(s, "username", "given without password_file");
	return st;
}

const struct channel_ops chan_smtp_conf_ops = {
	.name = "smtp",
	.section = "smtp",
	.keys = smtp_keys,
	.conf_load = smtp_conf_load,
	.conf_free = smtp_conf_free,
};
