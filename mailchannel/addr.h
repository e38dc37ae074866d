/*++
 * NAME
 *	addr 3h
 * SUMMARY
 *	mail addresses: parsing, address lists, % routing, mailbox names
 * SYNOPSIS
 *	#include "mailchannel/addr.h"
 * DESCRIPTION
 *	An address is a local part and a host, always both (addresses in
 *	a letter are full and explicit, DESIGN section 3). addr_parse()
 *	accepts every form a Grey Book letter or an RFC 733/822 header
 *	may carry and reduces it to that pair:
 *
 *	    bennett@ucl                       local "bennett", host "ucl"
 *	    bennett at ucl                    RFC 733 host indicator
 *	    Chris Bennett <bennett@ucl>       the phrase is dropped
 *	    linington@cambridge@pss           = linington%cambridge@pss
 *	    "john smith"@ucl                  local "john smith" (unquoted)
 *	    bennett(Chris)@ucl (UCL)          comments removed
 *	    <@pss,@cambridge:lin@cam2>        = lin%cam2%cambridge@pss
 *	    bennett@ucl@[128.16.0.1]          trailing domain literal dropped
 *
 *	The local part is stored unquoted (quoted strings and quoted
 *	pairs resolved); addr_format() quotes it again when needed. Host
 *	names are kept as written; compare them with addr_host_eq().
 *	See doc/mail-format.md for the exact grammar and caps.
 *
 *	All functions that can fail return -1 or NULL and fill a caller's
 *	error buffer (if not NULL) with a lowercase reason that names the
 *	object, e.g. "address 'bennett': no host part". Bytes from the
 *	input are shown escaped (\xNN) and cut at 60 bytes, so a message
 *	is safe to log. Nothing here does I/O or keeps global state.
 *--*/
#ifndef MAILCHANNEL_ADDR_H
#define MAILCHANNEL_ADDR_H

#include <stddef.h>

#define ADDR_MAX_LEN	1024	/* bytes of one address as written */
#define ADDR_HOST_MAX	255	/* bytes of one host name */
#define ADDR_MBOX_MAX	255	/* bytes of a mailbox (file) name */
#define ADDR_LIST_MAX	10000	/* addresses in one list */
#define ADDR_LINE_MAX	65536	/* bytes of one address-list line */
#define ADDR_ERRLEN	256	/* a good size for error buffers */

struct addr;
struct addr_list;

/*
 * Single addresses.
 */

/* addr_parse - parse one address from text[0..len) (no NUL needed).
 * Returns a new address (free with addr_free) or NULL with err: empty
 * text, longer than ADDR_MAX_LEN (as given, or in canonical form), NUL
 * or control bytes, no host part, empty local part, bad host name,
 * unbalanced quotes/comments/<>. */
struct addr *addr_parse(const char *text, size_t len, char *err, size_t errlen);
/* addr_new - address from a local part and a host (both copied); NULL
 * with err when local is empty or holds CR or LF, host is not a valid
 * host name, or the
 * canonical form would pass ADDR_MAX_LEN */
struct addr *addr_new(const char *local, const char *host, char *err, size_t errlen);
/* addr_dup - deep copy */
struct addr *addr_dup(const struct addr *a);
/* addr_free - release; NULL is allowed */
void addr_free(struct addr *a);

/* addr_local - the unquoted local part; valid while a lives unchanged */
const char *addr_local(const struct addr *a);
/* addr_host - the host part as written; valid while a lives unchanged */
const char *addr_host(const struct addr *a);

/* addr_format - canonical text "local@host", the local part quoted
 * when it needs it (RFC 822). Writes at most dstlen-1 bytes plus NUL
 * (dst may be NULL when dstlen is 0); returns the full length, like
 * snprintf, so a result >= dstlen means it was cut. */
size_t addr_format(const struct addr *a, char *dst, size_t dstlen);
/* addr_to_str - addr_format into new memory (caller frees) */
char *addr_to_str(const struct addr *a);

/*
 * Host names. A valid host name is 1..ADDR_HOST_MAX bytes of labels
 * of [A-Za-z0-9_-] separated by single dots.
 */

/* addr_host_check - 0 when host[0..len) is a valid host name, else -1
 * with err ("host name 'x': reason") */
int addr_host_check(const char *host, size_t len, char *err, size_t errlen);
/* addr_host_eq - 1 when two host names are equal ignoring ASCII case */
int addr_host_eq(const char *a, const char *b);
/* addr_host_is - 1 when a's host equals host ignoring ASCII case */
int addr_host_is(const struct addr *a, const char *host);
/* addr_host_reverse - reverse the label order (JANET big-endian form:
 * "cs.ucl.ac.uk" <-> "uk.ac.ucl.cs"); snprintf-like return */
size_t addr_host_reverse(const char *host, char *dst, size_t dstlen);

/*
 * Relaying (INDRA 1025 section 5.1 (3), DESIGN section 4 step 3).
 */

/* addr_has_route - 1 when the local part contains '%' */
int addr_has_route(const struct addr *a);
/* addr_percent_hop - the rewrite a node applies to an address whose
 * host part names itself (the caller has checked that): drop the host,
 * turn the rightmost '%' of the local part into '@'. Rewrites a in
 * place and returns 0; -1 with err (a unchanged) when the local part
 * has no '%', or the new local part or host would be empty or bad.
 * "linington%cambridge%pss@ucl" -> "linington%cambridge@pss". */
int addr_percent_hop(struct addr *a, char *err, size_t errlen);

/*
 * Local delivery (DESIGN section 4 step 2).
 */

/* addr_mailbox_check - 0 when local[0..len) may name a mailbox; -1
 * with err "invalid mailbox name 'x': reason" when it is empty, longer
 * than ADDR_MBOX_MAX, contains '/', NUL or another control byte, or
 * starts with '.', so no address can reach outside the mailbox tree */
int addr_mailbox_check(const char *local, size_t len, char *err, size_t errlen);
/* addr_mailbox - check a's local part and write it lower-cased (ASCII
 * only; 8-bit bytes are kept) into dst (dstlen > ADDR_MBOX_MAX is
 * always enough); 0, or -1 with err */
int addr_mailbox(const struct addr *a, char *dst, size_t dstlen, char *err, size_t errlen);
/* addr_lower - lower-case ASCII letters of s in place; returns s */
char *addr_lower(char *s);

/*
 * Address lists: comma and/or newline separated (DESIGN section 3).
 */

/* addr_split - length of the first item of text[0..len): up to the
 * first comma outside quotes, comments, domain literals and <...>
 * (len when there is none) */
size_t addr_split(const char *text, size_t len);

/* addr_list_new - empty list */
struct addr_list *addr_list_new(void);
/* addr_list_free - release the list and its addresses; NULL allowed */
void addr_list_free(struct addr_list *l);
/* addr_list_append - add a (ownership passes to the list, also on
 * failure, when a is freed); -1 with err when the list already holds
 * ADDR_LIST_MAX addresses */
int addr_list_append(struct addr_list *l, struct addr *a, char *err, size_t errlen);
/* addr_list_add_line - parse one line (no newline needed; CR is
 * ignored) of comma-separated addresses and append them. Empty items
 * (a trailing comma, ",,") are skipped. lineno is used in errors:
 * "line 3: address 'x': no host part". Returns 0; -1 for a bad
 * address; -2 when a cap was hit (the line is over ADDR_LINE_MAX bytes
 * or the list would pass ADDR_LIST_MAX). On failure the list keeps the
 * addresses appended before the bad one. */
int addr_list_add_line(struct addr_list *l, const char *line, size_t len,
	unsigned long lineno, char *err, size_t errlen);
/* addr_list_parse - a whole list text, lines counted from 1; the list
 * may come back empty (the caller decides whether that is an error).
 * NULL with err on the first bad line or when a cap is hit. */
struct addr_list *addr_list_parse(const char *text, size_t len, char *err, size_t errlen);
/* addr_list_count - number of addresses */
size_t addr_list_count(const struct addr_list *l);
/* addr_list_get - address i (< count), borrowed: valid until the list
 * is freed */
const struct addr *addr_list_get(const struct addr_list *l, size_t i);
/* addr_list_mem - bytes of memory the list holds (an estimate that
 * includes allocator-visible sizes, for memory bounds checks) */
size_t addr_list_mem(const struct addr_list *l);

#endif
