/*++
 * NAME
 *	test_rec 1
 * SUMMARY
 *	CUnit tests of relay/rec (strict line records), relay/srv_docket
 *	(server dockets) and str_unescape
 * SYNOPSIS
 *	build/tests/test_rec
 * DESCRIPTION
 *	rec: every awkward value (newlines, quotes, backslashes, 0x7f,
 *	0x80..0xff, all non-NUL octets, empty, leading and trailing
 *	spaces) is written as exactly one line and read back octet for
 *	octet; rec_addf's exact bytes; the cap (an append that does not fit
 *	leaves the buffer unchanged); every rejection of the grammar with
 *	its line number and reason, each parsed from a copy of exactly len
 *	octets so that ASan (make unit-san) sees any read past the end;
 *	program errors panic (in a forked child).
 *
 *	srv_docket: the old well-formed format still reads; a copy
 *	identity carrying "\ncommitted 1\ncopy " is one copy value after a
 *	format/parse round trip, and the text the old writer made of it is
 *	rejected (a repeated key), as are unknown keys, missing lines and
 *	bad values.
 *--*/
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "relay/rec.h"
#include "relay/srv_docket.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"
#include "util/strutil.h"

#define MAXLINES 16

/* What a rec_each() callback saw. */
struct seen {
	size_t	n;
	char	key[MAXLINES][REC_KEY_MAX];
	char   *val[MAXLINES];
	size_t	vlen[MAXLINES];
	const char *reject;	/* key to refuse, or NULL */
};

static int collect(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct seen *s = arg;

	if (s->reject != NULL && strcmp(key, s->reject) == 0) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	if (s->n == MAXLINES)
		return 0;
	CU_ASSERT(strlen(key) < REC_KEY_MAX);
	CU_ASSERT(val[vlen] == '\0');
	snprintf(s->key[s->n], sizeof(s->key[s->n]), "%s", key);
	s->val[s->n] = malloc(vlen + 1);
	memcpy(s->val[s->n], val, vlen + 1);
	s->vlen[s->n] = vlen;
	s->n++;
	return 0;
}

static void seen_free(struct seen *s)
{
	size_t  i;

	for (i = 0; i < s->n; i++)
		free(s->val[i]);
	memset(s, 0, sizeof(*s));
}

/* parse_exact - rec_each over a private copy of exactly len octets */
static int parse_exact(const char *text, size_t len, struct seen *s, char *err, size_t errlen)
{
	char   *copy = malloc(len ? len : 1);
	int     rc;

	memcpy(copy, text, len);
	rc = rec_each(copy, len, collect, s, err, errlen);
	free(copy);
	return rc;
}

/* child_status - run fn(arg) in a forked child with stderr silenced */
static int child_status(void (*fn)(const void *), const void *arg)
{
	pid_t   pid;
	int     st = 0, fd;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0)
			dup2(fd, 2);
		fn(arg);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return st;
}

/* EXPECT_SAME - exact octets against a string literal */
#define EXPECT_SAME(got, glen, lit) EXPECT_BYTES((got), (glen), (lit), sizeof(lit) - 1)

#define EXPECT_PANIC(fn, arg) do { \
	int st_ = child_status((fn), (arg)); \
	EXPECT_TRUE(WIFSIGNALED(st_) && WTERMSIG(st_) == SIGABRT); \
} while (0)

/*
 * rec
 */

struct val {
	const char *label;
	const char *v;
	size_t	len;
};

static void test_roundtrip(void)
{
	static char all[255], high[128];
	static const char attack[] = "niftpmail-copy evil/x size=1 crc=1\ncommitted 1\ncopy ";
#define V(label, lit) { label, lit, sizeof(lit) - 1 }
	struct val vals[] = {
		V("empty", ""),
		V("word", "cambridge.2611231930.0001a7"),
		V("spaces", "niftpmail-copy ucl/ucl.1 size=10 crc=0000abcd"),
		V("newline", "a\nb"),
		V("attack", "niftpmail-copy evil/x size=1 crc=1\ncommitted 1\ncopy "),
		V("quotes", "\"quoted\" and \""),
		V("lone quote", "\""),
		V("backslashes", "back\\slash\\\\ \\n \\x41"),
		V("controls", "tab\tcr\rlf\n\x01\x1f"),
		V("del", "\x7f"),
		V("leading space", " x"),
		V("trailing space", "x "),
		V("only spaces", "   "),
		V("equals", "a=b"),
		{ "high", high, sizeof(high) },
		{ "all non-NUL", all, sizeof(all) },
	};
	struct buf b = BUF_INIT(1 << 16);
	struct seen s;
	char    err[256];
	size_t  i, k;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (char) (i + 1);
	for (i = 0; i < sizeof(high); i++)
		high[i] = (char) (0x80 + i);
	for (i = 0; i < NELEM(vals); i++) {
		buf_reset(&b);
		EXPECT_INT(rec_addn(&b, "copy", vals[i].v, vals[i].len), 0);
		/* one line: the only newline is the last octet */
		EXPECT_TRUE(b.len > 0 && buf_data(&b)[b.len - 1] == '\n');
		EXPECT_TRUE(memchr(buf_data(&b), '\n', b.len - 1) == NULL);
		for (k = 0; k < b.len; k++)
			if (buf_data(&b)[k] != '\n' && (buf_data(&b)[k] < 0x20 || buf_data(&b)[k] > 0x7e))
				break;
		EXPECT_INT(k, b.len);	/* printable ASCII only */
		memset(&s, 0, sizeof(s));
		if (parse_exact((const char *) buf_data(&b), b.len, &s, err, sizeof(err)) < 0)
			fprintf(stderr, "\n%s: %s\n", vals[i].label, err);
		EXPECT_INT(s.n, 1);
		if (s.n == 1) {
			EXPECT_STR(s.key[0], "copy");
			EXPECT_BYTES(s.val[0], s.vlen[0], vals[i].v, vals[i].len);
		}
		seen_free(&s);
	}
	/* several lines keep their order; rec_add = rec_addn(strlen) */
	buf_reset(&b);
	EXPECT_INT(rec_add(&b, "committed", "0"), 0);
	EXPECT_INT(rec_add(&b, "name", "x.1"), 0);
	EXPECT_INT(rec_add(&b, "copy", attack), 0);
	EXPECT_INT(rec_add(&b, "a.b_c-9", ""), 0);
	EXPECT_SAME(buf_data(&b), b.len,
	    "committed 0\nname x.1\ncopy \"niftpmail-copy evil/x size=1 crc=1\\ncommitted 1\\ncopy \"\n"
	    "a.b_c-9 \"\"\n");
	memset(&s, 0, sizeof(s));
	EXPECT_INT(parse_exact((const char *) buf_data(&b), b.len, &s, err, sizeof(err)), 0);
	EXPECT_INT(s.n, 4);
	if (s.n == 4) {
		EXPECT_STR(s.key[0], "committed");
		EXPECT_STR(s.key[1], "name");
		EXPECT_STR(s.key[2], "copy");
		EXPECT_STR(s.val[2], attack);
		EXPECT_STR(s.key[3], "a.b_c-9");
		EXPECT_INT(s.vlen[3], 0);
	}
	seen_free(&s);
	buf_release(&b);
}

static void test_raw(void)
{
	static const struct {
		const char *text;
		const char *want;
	} t[] = {
		/* the old docket writer's raw value */
		{ "copy niftpmail-copy a/b size=1 crc=2\n", "niftpmail-copy a/b size=1 crc=2" },
		{ "copy \n", "" },
		{ "copy \"\"\n", "" },
		{ "k a\\nb=c\n", "a\\nb=c" },		/* raw: a backslash is itself */
		{ "k  two leading\n", " two leading" },
		{ "k trailing \n", "trailing " },
		{ "k \"\\x41\\t\"\n", "A\t" },
		{ "k ~!#$%&'()*+,-./\n", "~!#$%&'()*+,-./" },
	};
	struct seen s;
	char    err[256];
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		memset(&s, 0, sizeof(s));
		EXPECT_INT(parse_exact(t[i].text, strlen(t[i].text), &s, err, sizeof(err)), 0);
		EXPECT_INT(s.n, 1);
		if (s.n == 1)
			EXPECT_STR(s.val[0], t[i].want);
		seen_free(&s);
	}
	memset(&s, 0, sizeof(s));
	EXPECT_INT(rec_each("", 0, collect, &s, err, sizeof(err)), 0);	/* no lines */
	EXPECT_INT(s.n, 0);
	/* a 31-octet key is the longest */
	EXPECT_INT(parse_exact("abcdefghijklmnopqrstuvwxyz01234 v\n", 34, &s, err, sizeof(err)), 0);
	seen_free(&s);
}

static void test_addf(void)
{
	struct buf b = BUF_INIT(4096);

	EXPECT_INT(rec_addf(&b, "part", "%lu %llu %08lx", 5UL, 196608ULL, 0xabcdUL), 0);
	EXPECT_INT(rec_addf(&b, "committed", "%d", 1), 0);
	EXPECT_INT(rec_addf(&b, "e", "%s", ""), 0);
	EXPECT_INT(rec_addf(&b, "w", "two words %s", "and spaces"), 0);
	EXPECT_SAME(buf_data(&b), b.len,
	    "part 5 196608 0000abcd\ncommitted 1\ne \"\"\nw two words and spaces\n");
	buf_release(&b);
}

static void panic_addf_newline(const void *arg)
{
	struct buf b = BUF_INIT(4096);

	(void) rec_addf(&b, "k", "%s", (const char *) arg);
}

static void panic_add_key(const void *arg)
{
	struct buf b = BUF_INIT(4096);

	(void) rec_add(&b, (const char *) arg, "v");
}

static void test_panics(void)
{
	EXPECT_PANIC(panic_addf_newline, "a\nb");
	EXPECT_PANIC(panic_addf_newline, "\"starts with a quote");
	EXPECT_PANIC(panic_addf_newline, "tab\there");
	EXPECT_PANIC(panic_addf_newline, "\x80");
	EXPECT_PANIC(panic_add_key, "");
	EXPECT_PANIC(panic_add_key, "Copy");
	EXPECT_PANIC(panic_add_key, "a b");
	EXPECT_PANIC(panic_add_key, "a\n");
	EXPECT_PANIC(panic_add_key, "abcdefghijklmnopqrstuvwxyz012345");	/* 32 */
	/* and the good ones do not */
	EXPECT_INT(child_status(panic_addf_newline, "plain words 1 2"), 0);
	EXPECT_INT(child_status(panic_add_key, "abcdefghijklmnopqrstuvwxyz01234"), 0);
}

static void test_cap(void)
{
	struct buf b;
	struct seen s;
	char    err[256];

	/* "k \"a\\nb\"\n" is 9 octets: it fits a cap of 9 exactly, not 8 */
	buf_init(&b, 9);
	EXPECT_INT(rec_add(&b, "k", "a\nb"), 0);
	EXPECT_SAME(buf_data(&b), b.len, "k \"a\\nb\"\n");
	EXPECT_INT(rec_add(&b, "k", ""), -1);
	EXPECT_INT(b.len, 9);
	buf_release(&b);
	buf_init(&b, 8);
	EXPECT_INT(rec_add(&b, "k", "a\nb"), -1);
	EXPECT_INT(b.len, 0);
	EXPECT_INT(rec_addf(&b, "k", "%s", "123456"), -1);
	EXPECT_INT(b.len, 0);
	EXPECT_INT(rec_addf(&b, "k", "%s", "12345"), 0);	/* exactly 8 */
	EXPECT_INT(b.len, 8);
	buf_release(&b);
	/* REC_TEXT_MAX is the largest record read */
	{
		size_t  n = REC_TEXT_MAX + 1;
		char   *big = malloc(n);

		memset(big, 'a', n);
		memcpy(big, "k ", 2);
		big[n - 1] = '\n';
		memset(&s, 0, sizeof(s));
		EXPECT_INT(rec_each(big, n, collect, &s, err, sizeof(err)), -1);
		EXPECT_HAS(err, "larger than the limit");
		EXPECT_INT(rec_each(big + 1, n - 1, collect, &s, err, sizeof(err)), -1);
		EXPECT_STR(err, "line 1: bad key");		/* " aaa..." */
		big[1] = 'k';
		big[2] = ' ';
		EXPECT_INT(rec_each(big + 1, n - 1, collect, &s, err, sizeof(err)), 0);
		EXPECT_INT(s.n, 1);
		seen_free(&s);
		free(big);
	}
}

static void test_reject(void)
{
	static const struct {
		const char *text;
		size_t	len;		/* 0: strlen */
		const char *want;
	} t[] = {
		{ "a 1", 0, "line 1: no newline at the end (torn record)" },
		{ "a 1\nb 2", 0, "line 2: no newline at the end (torn record)" },
		{ "a 1\nb", 0, "line 2: no newline at the end (torn record)" },
		{ "a 1\nb ", 0, "line 2: no newline at the end (torn record)" },
		{ "a \"x", 0, "line 1: no newline at the end (torn record)" },
		{ "a \"x\"", 0, "line 1: no newline at the end (torn record)" },
		{ "a 1\n\nb 2\n", 0, "line 2: empty line" },
		{ "\n", 0, "line 1: empty line" },
		{ "A 1\n", 0, "line 1: bad key" },
		{ "aB 1\n", 0, "line 1: bad key" },
		{ " a 1\n", 0, "line 1: bad key" },
		{ "a\t1\n", 0, "line 1: bad key" },
		{ "a:1\n", 0, "line 1: bad key" },
		{ "a\0 1\n", 5, "line 1: bad key" },
		{ "a\n", 0, "line 1: no space after the key" },
		{ "ok 1\nabcdefghijklmnopqrstuvwxyz012345 v\n", 0, "line 2: key longer than 31 octets" },
		{ "a 1\r\n", 0, "line 1: control octet 0x0d in the value" },
		{ "a \x01\n", 0, "line 1: control octet 0x01 in the value" },
		{ "a \x7f\n", 0, "line 1: control octet 0x7f in the value" },
		{ "a \x80\n", 0, "line 1: control octet 0x80 in the value" },
		{ "a x\0y\n", 6, "line 1: control octet 0x00 in the value" },
		{ "a \tx\n", 0, "line 1: control octet 0x09 in the value" },
		{ "a \"x\ny\"\n", 0, "line 1: control or 8-bit octet inside quotes" },
		{ "a \"\xc3\xa9\"\n", 0, "line 1: control or 8-bit octet inside quotes" },
		{ "a \"x\\q\"\n", 0, "line 1: bad escape" },
		{ "a \"x\\x4\"\n", 0, "line 1: bad escape" },
		{ "a \"x\\xg0\"\n", 0, "line 1: bad escape" },
		{ "a \"x\\x4A\"\n", 0, "line 1: bad escape" },
		{ "a \"x\\'\"\n", 0, "line 1: bad escape" },
		{ "a \"x\\x4", 0, "line 1: truncated escape" },
		{ "a \"x\\", 0, "line 1: truncated escape" },
		{ "a \"x\" y\n", 0, "line 1: text after the closing quote" },
		{ "a \"x\"\"\n", 0, "line 1: text after the closing quote" },
		{ "a \"x\"y\n", 0, "line 1: text after the closing quote" },
		{ "a 1\nb \"x\\x00y\"\n", 0, "line 2: NUL octet in the value" },
		{ "a 1\nzz 2\n", 0, "line 2: unknown key 'zz'" },
	};
	struct seen s;
	char    err[256];
	size_t  i, len;

	for (i = 0; i < NELEM(t); i++) {
		memset(&s, 0, sizeof(s));
		s.reject = "zz";
		len = t[i].len ? t[i].len : strlen(t[i].text);
		err[0] = '\0';
		EXPECT_INT(parse_exact(t[i].text, len, &s, err, sizeof(err)), -1);
		EXPECT_STR(err, t[i].want);
		seen_free(&s);
	}
	/* a callback that fills no reason */
	memset(&s, 0, sizeof(s));
	s.reject = "a";
	EXPECT_INT(parse_exact("a 1\n", 4, &s, err, sizeof(err)), -1);
	EXPECT_HAS(err, "line 1: unknown key 'a'");
	/* err may be NULL or tiny */
	EXPECT_INT(rec_each("a", 1, collect, &s, NULL, 0), -1);
	EXPECT_INT(rec_each("a", 1, collect, &s, err, 1), -1);
	EXPECT_STR(err, "");
	seen_free(&s);
}

static void test_u64(void)
{
	static const struct {
		const char *s;
		uint64_t min, max;
		int	ret;
		uint64_t want;
	} t[] = {
		{ "0", 0, 10, 0, 0 },
		{ "10", 0, 10, 0, 10 },
		{ "11", 0, 10, -1, 0 },
		{ "0", 1, 10, -1, 0 },
		{ "007", 0, 10, 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, -1, 0 },
		{ "", 0, 10, -1, 0 },
		{ "-1", 0, 10, -1, 0 },
		{ "+1", 0, 10, -1, 0 },
		{ " 1", 0, 10, -1, 0 },
		{ "1 ", 0, 10, -1, 0 },
		{ "1x", 0, 10, -1, 0 },
		{ "0x1", 0, 10, -1, 0 },
	};
	uint64_t v;
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		v = 12345;
		EXPECT_INT(rec_u64(t[i].s, t[i].min, t[i].max, &v), t[i].ret);
		CU_ASSERT(v == (t[i].ret == 0 ? t[i].want : 12345));
	}
}

static void test_unescape(void)
{
	char    d[16];
	size_t  n = 99, used = 99;
	const char *why = NULL;

	EXPECT_INT(str_unescape(d, sizeof(d), "\"a\\nb\" rest", 11, &n, &used, &why), 0);
	EXPECT_INT(n, 3);
	EXPECT_INT(used, 6);
	EXPECT_STR(d, "a\nb");
	EXPECT_INT(str_unescape(d, sizeof(d), "\"\"", 2, &n, &used, NULL), 0);
	EXPECT_INT(n, 0);
	EXPECT_INT(used, 2);
	EXPECT_INT(str_unescape(d, sizeof(d), "abc", 3, &n, &used, &why), -1);
	EXPECT_STR(why, "no opening quote");
	EXPECT_INT(str_unescape(d, sizeof(d), "", 0, &n, &used, &why), -1);
	EXPECT_INT(str_unescape(d, sizeof(d), "\"abc", 4, &n, &used, &why), -1);
	EXPECT_STR(why, "no closing quote");
	/* dst: 3 octets + NUL fit in 4, not in 3 */
	EXPECT_INT(str_unescape(d, 4, "\"abc\"", 5, &n, &used, &why), 0);
	EXPECT_INT(str_unescape(d, 3, "\"abc\"", 5, &n, &used, &why), -1);
	EXPECT_STR(why, "value too long");
	EXPECT_INT(str_unescape(d, 0, "\"\"", 2, &n, &used, &why), -1);
	/* the inverse of str_escape for every octet */
	{
		char    all[256], esc[1200], back[1200];
		size_t  i, el;

		for (i = 0; i < 256; i++)
			all[i] = (char) i;
		el = str_escape(esc, sizeof(esc), all, 256);
		EXPECT_TRUE(el < sizeof(esc) && esc[0] == '"');
		EXPECT_INT(str_unescape(back, sizeof(back), esc, el, &n, &used, &why), 0);
		EXPECT_INT(used, el);
		EXPECT_BYTES(back, n, all, 256);
	}
}

/*
 * srv_docket
 */

static void test_docket_parse(void)
{
	static const char old[] = "committed 0\nname cambridge.2612052322.000001\n"
	    "copy niftpmail-copy ucl/ucl.1 size=178 crc=a952bdc1\npart 3 196608 0000abcd\n";
	struct srv_docket d;
	char    err[256];

	/* the format the old writer made, where it was well-formed */
	EXPECT_INT(srv_docket_parse(old, sizeof(old) - 1, &d, err, sizeof(err)), 0);
	EXPECT_INT(d.committed, 0);
	EXPECT_STR(d.name, "cambridge.2612052322.000001");
	EXPECT_STR(d.copy, "niftpmail-copy ucl/ucl.1 size=178 crc=a952bdc1");
	EXPECT_INT(d.part_mark, 3);
	CU_ASSERT(d.part_off == 196608);
	EXPECT_INT(d.part_crc, 0xabcd);
	EXPECT_INT(srv_docket_parse("committed 1\nname n.1\ncopy \n", 27, &d, err, sizeof(err)), 0);
	EXPECT_INT(d.committed, 1);
	EXPECT_STR(d.copy, "");
	/* copy may be absent (empty) and lines come in any order */
	EXPECT_INT(srv_docket_parse("name n.1\ncommitted 1\n", 21, &d, err, sizeof(err)), 0);
	EXPECT_STR(d.copy, "");
	EXPECT_INT(srv_docket_parse("committed 0\nname n.1\npart 4294967295 "
	    "18446744073709551615 ffffffff\n", 67, &d, err, sizeof(err)), 0);
	EXPECT_INT(d.part_mark, 4294967295u);
	CU_ASSERT(d.part_off == UINT64_MAX);
	EXPECT_INT(d.part_crc, 0xffffffffu);
}

static void test_docket_attack(void)
{
	static const char attack[] = "niftpmail-copy evil/x size=1 crc=1\ncommitted 1\ncopy ";
	/* what the old writer made of it: planted lines, the last one won */
	static const char oldtext[] = "committed 0\nname n.1\n"
	    "copy niftpmail-copy evil/x size=1 crc=1\ncommitted 1\ncopy \n";
	struct srv_docket d, e;
	struct buf b = BUF_INIT(SRV_DOCKET_MAX);
	char    err[256];
	size_t  i, lines = 0;

	memset(&d, 0, sizeof(d));
	d.committed = 0;
	str_copy(d.name, "cambridge.2612052322.000001", sizeof(d.name));
	str_copy(d.copy, attack, sizeof(d.copy));
	d.part_mark = 2;
	d.part_off = 2048;
	d.part_crc = 0x12345678;
	EXPECT_INT(srv_docket_format(&b, &d), 0);
	for (i = 0; i < b.len; i++)
		lines += buf_data(&b)[i] == '\n';
	EXPECT_INT(lines, 4);
	EXPECT_INT(srv_docket_parse((const char *) buf_data(&b), b.len, &e, err, sizeof(err)), 0);
	EXPECT_INT(e.committed, 0);
	EXPECT_STR(e.name, d.name);
	EXPECT_STR(e.copy, attack);	/* one copy value, the newline text inside */
	EXPECT_INT(e.part_mark, 2);
	CU_ASSERT(e.part_off == 2048);
	EXPECT_INT(e.part_crc, 0x12345678);
	EXPECT_INT(srv_docket_parse(oldtext, sizeof(oldtext) - 1, &e, err, sizeof(err)), -1);
	EXPECT_STR(err, "line 4: repeated key 'committed'");
	buf_release(&b);
}

static void test_docket_roundtrip(void)
{
	static char all[SRV_DOCKET_COPY_MAX];	/* the longest copy identity + NUL */
	const char *copies[] = { "", "niftpmail-copy ucl/ucl.1 size=10 crc=0000abcd", "\"", "\\",
	    "a\nb\r\tc\x7f\x80\xff", all };
	struct srv_docket d, e;
	struct buf b;
	char    err[256];
	size_t  i;

	for (i = 0; i < sizeof(all) - 1; i++)
		all[i] = (char) (i % 255 + 1);
	for (i = 0; i < NELEM(copies); i++) {
		memset(&d, 0, sizeof(d));
		d.committed = (int) (i & 1);
		str_copy(d.name, "a-b_c.D9", sizeof(d.name));
		memcpy(d.copy, copies[i], strlen(copies[i]) + 1);
		if (!d.committed) {
			d.part_mark = (uint32_t) i + 1;
			d.part_off = (uint64_t) i << 33;
			d.part_crc = 0xdeadbeef;
		}
		buf_init(&b, SRV_DOCKET_MAX);
		EXPECT_INT(srv_docket_format(&b, &d), 0);
		EXPECT_INT(srv_docket_parse((const char *) buf_data(&b), b.len, &e, err,
		    sizeof(err)), 0);
		EXPECT_TRUE(memcmp(&d, &e, sizeof(d)) == 0);
		buf_release(&b);
	}
}

static void test_docket_reject(void)
{
	static char longname[200], longcopy[400];
	static const struct {
		const char *text;
		const char *want;
	} t[] = {
		{ "committed 1\nname n.1\nsize 3\n", "line 3: unknown key 'size'" },
		{ "committed 1\nname n.1\ncommitted 1\n", "line 3: repeated key 'committed'" },
		{ "committed 1\nname n.1\nname n.2\n", "line 3: repeated key 'name'" },
		{ "committed 1\nname n.1\ncopy a\ncopy \n", "line 4: repeated key 'copy'" },
		{ "committed 0\nname n.1\npart 1 1 00000000\npart 2 2 00000000\n",
		    "line 4: repeated key 'part'" },
		{ "name n.1\n", "no 'committed' line" },
		{ "committed 1\n", "no 'name' line" },
		{ "", "no 'committed' line" },
		{ "committed 2\nname n.1\n", "line 1: bad value for 'committed': 2" },
		{ "committed \nname n.1\n", "line 1: bad value for 'committed': \"\"" },
		{ "committed 01\nname n.1\n", "line 1: bad value for 'committed': 01" },
		{ "committed 1\nname a/b\n", "line 2: bad value for 'name': a/b" },
		{ "committed 1\nname .x\n", "line 2: bad value for 'name': .x" },
		{ "committed 1\nname \n", "line 2: bad value for 'name': \"\"" },
		{ "committed 1\nname \"a\\nb\"\n", "line 2: bad value for 'name': \"a\\nb\"" },
		{ "committed 0\nname n.1\npart 0 1 00000000\n", "line 3: bad value for 'part'" },
		{ "committed 0\nname n.1\npart 4294967296 1 00000000\n", "line 3: bad value" },
		{ "committed 0\nname n.1\npart 1 1 0000abc\n", "line 3: bad value" },
		{ "committed 0\nname n.1\npart 1 1 0000ABCD\n", "line 3: bad value" },
		{ "committed 0\nname n.1\npart 1 -1 00000000\n", "line 3: bad value" },
		{ "committed 0\nname n.1\npart 1 1 00000000 x\n", "line 3: bad value" },
		{ "committed 0\nname n.1\npart 1  1 00000000\n", "line 3: bad value" },
		{ "committed 0\nname n.1\npart 1 1\n", "line 3: bad value" },
		{ "committed 0\nname n.1\npart \n", "line 3: bad value" },
		{ "committed 1\nname n.1\npart 1 1 00000000\n", "a checkpoint in a committed docket" },
		{ "committed 1\nname n.1", "line 2: no newline at the end (torn record)" },
		{ "committed 1\r\nname n.1\n", "line 1: control octet 0x0d" },
		{ longname, "line 2: bad value for 'name'" },
		{ longcopy, "line 3: bad value for 'copy'" },
	};
	struct srv_docket d;
	char    err[256];
	size_t  i;

	snprintf(longname, sizeof(longname), "committed 1\nname %0*d\n", SPOOL_NAMELEN, 7);
	snprintf(longcopy, sizeof(longcopy), "committed 1\nname n.1\ncopy %0*d\n",
	    SRV_DOCKET_COPY_MAX, 7);
	for (i = 0; i < NELEM(t); i++) {
		err[0] = '\0';
		EXPECT_INT(srv_docket_parse(t[i].text, strlen(t[i].text), &d, err, sizeof(err)), -1);
		EXPECT_HAS(err, t[i].want);
	}
	/* the longest copy identity that fits is taken */
	snprintf(longcopy, sizeof(longcopy), "committed 1\nname n.1\ncopy %0*d\n",
	    SRV_DOCKET_COPY_MAX - 1, 7);
	EXPECT_INT(srv_docket_parse(longcopy, strlen(longcopy), &d, err, sizeof(err)), 0);
	EXPECT_INT(strlen(d.copy), SRV_DOCKET_COPY_MAX - 1);
}

static void panic_format_name(const void *arg)
{
	struct srv_docket d;
	struct buf b = BUF_INIT(SRV_DOCKET_MAX);

	memset(&d, 0, sizeof(d));
	str_copy(d.name, (const char *) arg, sizeof(d.name));
	(void) srv_docket_format(&b, &d);
}

static void test_docket_panics(void)
{
	EXPECT_PANIC(panic_format_name, "");
	EXPECT_PANIC(panic_format_name, "a/b");
	EXPECT_PANIC(panic_format_name, "a\nb");
	EXPECT_INT(child_status(panic_format_name, "n.1"), 0);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "rec", "round trips of awkward values", test_roundtrip },
		{ "rec", "raw values and the old format", test_raw },
		{ "rec", "rec_addf exact bytes", test_addf },
		{ "rec", "program errors panic", test_panics },
		{ "rec", "caps", test_cap },
		{ "rec", "rejections", test_reject },
		{ "rec", "rec_u64", test_u64 },
		{ "rec", "str_unescape", test_unescape },
		{ "srv_docket", "parse", test_docket_parse },
		{ "srv_docket", "planted lines", test_docket_attack },
		{ "srv_docket", "format/parse round trip", test_docket_roundtrip },
		{ "srv_docket", "rejections", test_docket_reject },
		{ "srv_docket", "format panics", test_docket_panics },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
