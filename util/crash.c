/*++
 * NAME
 *	crash 3
 * SUMMARY
 *	named crash points for fault tests (DESIGN section 11)
 * SYNOPSIS
 *	#include "util/crash.h"
 * DESCRIPTION
 *	NIFTPMAIL_CRASH and NIFTPMAIL_HOOK are each parsed once, at the
 *	first crash_point() or crash_hook() call, into a short table of
 *	{name, N, count}. Unarmed processes pay one pthread_once and a
 *	test of an empty table per call.
 *
 *	A crash point fires when its count reaches N and ends the process
 *	with _exit(99) after one write(2) of "crash point NAME\n" to
 *	standard error. A hook fires exactly once, on its Nth call;
 *	later calls return 0 again, so "cut the connection at the 3rd
 *	data block" happens once and not on every block after it.
 *
 *	Counters are shared by all threads under a mutex.
 *--*/
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/crash.h"
#include "util/log.h"
#include "util/strutil.h"

#define CRASH_MAX	16	/* points per variable */
#define CRASH_NAMELEN	64

struct crash_tab {
	const char *var;
	pthread_once_t once;
	int	n;
	struct {
		char	name[CRASH_NAMELEN];
		uint64_t nth;
		uint64_t count;
	} ent[CRASH_MAX];
};

static struct crash_tab crash_points = { "NIFTPMAIL_CRASH", PTHREAD_ONCE_INIT, 0, {{"", 0, 0}} };
static struct crash_tab crash_hooks = { "NIFTPMAIL_HOOK", PTHREAD_ONCE_INIT, 0, {{"", 0, 0}} };
static pthread_mutex_t crash_lock = PTHREAD_MUTEX_INITIALIZER;

/* crash_parse - fill tab from its variable "NAME[:N],..." */
static void crash_parse(struct crash_tab *tab)
{
	const char *val = getenv(tab->var);
	char    copy[1024], *ent, *next, *colon;
	uint64_t nth;

	if (val == NULL || *val == '\0')
		return;
	if (str_copy(copy, val, sizeof(copy)) >= sizeof(copy)) {
		log_warn("%s: value too long, ignored", tab->var);
		return;
	}
	for (ent = copy; ent != NULL; ent = next) {
		if ((next = strchr(ent, ',')) != NULL)
			*next++ = '\0';
		if (*ent == '\0')
			continue;
		nth = 1;
		if ((colon = strchr(ent, ':')) != NULL) {
			*colon++ = '\0';
			if (str_to_u64(colon, 1, UINT64_MAX, &nth) < 0) {
				log_warn("%s: bad count in '%s:%s' ignored",
				    tab->var, ent, colon);
				continue;
			}
		}
		if (tab->n == CRASH_MAX || strlen(ent) >= CRASH_NAMELEN) {
			log_warn("%s: '%s' ignored (too many or too long)",
			    tab->var, ent);
			continue;
		}
		str_copy(tab->ent[tab->n].name, ent, CRASH_NAMELEN);
		tab->ent[tab->n].nth = nth;
		tab->ent[tab->n].count = 0;
		tab->n++;
	}
}

static void crash_parse_points(void)
{
	crash_parse(&crash_points);
}

static void crash_parse_hooks(void)
{
	crash_parse(&crash_hooks);
}

/* crash_count - count a call of name in tab; 1 on its Nth call */
static int crash_count(struct crash_tab *tab, const char *name)
{
	int     i, hit = 0;

	if (tab->n == 0)
		return 0;
	pthread_mutex_lock(&crash_lock);
	for (i = 0; i < tab->n; i++)
		if (strcmp(tab->ent[i].name, name) == 0
		    && ++tab->ent[i].count == tab->ent[i].nth)
			hit = 1;
	pthread_mutex_unlock(&crash_lock);
	return hit;
}

/* crash_point - _exit(99) here if NIFTPMAIL_CRASH names this point */
void crash_point(const char *name)
{
	char    msg[CRASH_NAMELEN + 32];
	size_t  n;

	pthread_once(&crash_points.once, crash_parse_points);
	if (!crash_count(&crash_points, name))
		return;
	n = str_copy(msg, "crash point ", sizeof(msg));
	n += str_copy(msg + n, name, sizeof(msg) - n);
	if (n > sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	(void) !write(STDERR_FILENO, msg, n);
	_exit(99);
}

/* crash_hook - 1 if NIFTPMAIL_HOOK names this hook and its count is reached */
int crash_hook(const char *name)
{
	pthread_once(&crash_hooks.once, crash_parse_hooks);
	return crash_count(&crash_hooks, name);
}
