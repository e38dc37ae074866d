# niftpmail - top-level Makefile.
#
#   make            build everything (bin/)
#   make deps       install missing Debian packages (as root) or say what is missing
#   make check      unit tests, integration tests, unit tests under ASan+UBSan, short fuzz runs
#   make run        build, start the sample relay network on loopback, relay
#                   the sample letters (KEEP=1 leaves it running)
#   make run-niftp  the niftp put/get/serve demonstration
#   make bench      benchmarks (print figures; they do not pass or fail)
#   make install    programs, man pages, systemd units, a sample configuration
#                   (PREFIX, default /usr/local; DESTDIR for a staged install);
#                   make uninstall removes them but never /etc/niftpmail or a
#                   spool (see "install" below and service/install.sh)
#   make fuzz       longer fuzz campaign (FUZZ_SECONDS per target, default 300)
#   make SANITIZE=1 everything built with AddressSanitizer + UBSan into build-san/:
#                   objects, libraries, tests (build-san/tests/), tools and the
#                   programs (build-san/bin/, not bin/); "make unit-san" runs
#                   the unit tests so built
#   WERROR=1        warnings are errors (normal, sanitizer and fuzz builds alike)
#
# Fuzz targets (tests/fuzz/fuzz_*.c, clang + libFuzzer) are built into
# build-fuzz/ with the same CSTD, WARN and CPPFLAGS as everything else, plus
# the fuzz sanitizers. "make check" runs them for about FUZZ_SHORT_TOTAL
# seconds in all (default 90), shared equally between the targets.

CC      ?= cc
CSTD     = -std=c11
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wwrite-strings -Wvla
CPPFLAGS = -D_GNU_SOURCE -I. -MMD -MP
OPT     ?= -O2 -g
LDLIBS   = -lz -lpthread
# libcurl only where the smtp channel's transfers (relay/chan_smtp.c) are
# linked: mailrelayd, and the tests, tools and fuzz targets that reach the
# channel table. Its shared libraries cost milliseconds at every start of
# niftpmail-sendmail (once per message under pipe(8)) and mailctl, which
# must not link it (relay/channel.h: the configuration table).
CURL_LIBS = -lcurl

ifeq ($(WERROR),1)
WERR     = -Werror
endif

# B: objects, libraries, tests and tools; BIN: the programs
ifeq ($(SANITIZE),1)
B        = build-san
BIN      = $(B)/bin
OPT      = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
B        = build
BIN      = bin
endif
CFLAGS  ?=
override CFLAGS += $(CSTD) $(WARN) $(WERR) $(OPT)

UTIL_SRC   = $(wildcard util/*.c)
NIFTP_SRC  = $(filter-out niftp/niftp_main.c niftp/tool_%.c,$(wildcard niftp/*.c))
TOOL_SRC   = niftp/niftp_main.c $(wildcard niftp/tool_*.c)
SPOOL_SRC  = $(wildcard spool/*.c)
MAILCH_SRC = $(wildcard mailchannel/*.c)
VCGW_SRC   = $(filter-out vcgw/vcgw_main.c,$(wildcard vcgw/*.c))
RELAY_SRC  = $(filter-out relay/mailrelayd_main.c relay/mailctl_main.c relay/sendmail_main.c,\
               $(wildcard relay/*.c))
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
TESTLIB_SRC = $(wildcard tests/unit/tl_*.c)
TTOOL_SRC  = $(wildcard tests/tools/*.c)
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))

LIBUTIL  = $(B)/libutil.a
LIBNIFTP = $(B)/libniftp.a
LIBSPOOL = $(B)/libspool.a
LIBMAILCH = $(B)/libmailch.a
LIBVCGW  = $(B)/libvcgw.a
LIBRELAY = $(B)/librelay.a
LIBS_ALL = $(LIBRELAY) $(LIBVCGW) $(LIBMAILCH) $(LIBSPOOL) $(LIBNIFTP) $(LIBUTIL)
PROGS    = $(BIN)/niftp $(BIN)/vcgw $(BIN)/mailrelayd $(BIN)/mailctl \
           $(BIN)/niftpmail-sendmail
UNITS    = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TTOOLS   = $(patsubst tests/tools/%.c,$(B)/tools/%,$(TTOOL_SRC))

.PHONY: all deps check unit unit-san integration check-postfix fuzz-short fuzz run run-niftp bench bench-peers bench-smtp clean install uninstall
.DEFAULT_GOAL := all
# keep intermediate objects (test and tool objects) so reruns do not rebuild
.SECONDARY:

all: $(PROGS) $(UNITS) $(TTOOLS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBUTIL): $(call obj,$(UTIL_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBNIFTP): $(call obj,$(NIFTP_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBSPOOL): $(call obj,$(SPOOL_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBMAILCH): $(call obj,$(MAILCH_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBVCGW): $(call obj,$(VCGW_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBRELAY): $(call obj,$(RELAY_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/niftp: $(call obj,$(TOOL_SRC)) $(LIBNIFTP) $(LIBUTIL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/vcgw: $(call obj,vcgw/vcgw_main.c) $(LIBVCGW) $(LIBNIFTP) $(LIBUTIL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -liniparser $(LDLIBS)

$(BIN)/mailrelayd: $(call obj,relay/mailrelayd_main.c) $(LIBRELAY) $(LIBMAILCH) $(LIBSPOOL) $(LIBNIFTP) $(LIBUTIL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -liniparser $(CURL_LIBS) $(LDLIBS)

$(BIN)/mailctl: $(call obj,relay/mailctl_main.c) $(LIBRELAY) $(LIBMAILCH) $(LIBSPOOL) $(LIBNIFTP) $(LIBUTIL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -liniparser $(LDLIBS)

$(BIN)/niftpmail-sendmail: $(call obj,relay/sendmail_main.c) $(LIBRELAY) $(LIBMAILCH) $(LIBSPOOL) $(LIBNIFTP) $(LIBUTIL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -liniparser $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(call obj,$(TESTLIB_SRC)) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcunit -liniparser $(CURL_LIBS) $(LDLIBS)

$(B)/tools/%: $(B)/tests/tools/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(LDLIBS)

deps:
	@sh tests/deps.sh

unit: $(UNITS)
	@sh tests/run-unit.sh $(B)

unit-san:
	@$(MAKE) --no-print-directory SANITIZE=1 unit

integration: all
	@sh tests/run-integration.sh

# tests against a private, loopback-only Postfix instance (issue 11; as
# root; installs the Debian package when missing, never the system instance)
check-postfix: all
	@bash tests/postfix/run.sh

# libFuzzer targets, built with clang into build-fuzz/: the library
# sources are compiled once (instrumented, without libFuzzer's main) into
# build-fuzz/libfuzz.a, and each target links against it. The warning
# flags are the normal build's, so clang reports what gcc would.
FUZZ_SAN    = -fsanitize=address,undefined
FUZZ_CFLAGS = $(CSTD) $(WARN) $(WERR) -g -O1 $(FUZZ_SAN)
FUZZ_LIBSRC = $(UTIL_SRC) $(NIFTP_SRC) $(SPOOL_SRC) $(MAILCH_SRC) $(RELAY_SRC) $(VCGW_SRC)
FUZZ_LIBOBJ = $(patsubst %.c,build-fuzz/obj/%.o,$(FUZZ_LIBSRC))
FUZZ_BINS   = $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build-fuzz/libfuzz.a: $(FUZZ_LIBOBJ)
	$(AR) rcs $@ $^
build-fuzz/%: tests/fuzz/%.c build-fuzz/libfuzz.a
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libfuzz.a \
	    -liniparser $(CURL_LIBS) $(LDLIBS)

FUZZ_SECONDS ?= 300
# make check's short runs: FUZZ_SHORT_TOTAL seconds shared by the targets,
# at least 5 s each
FUZZ_SHORT_TOTAL ?= 90
FUZZ_SHORT_SECS = $(shell n=$(words $(FUZZ_BINS)); s=15; \
                    [ $$n -gt 0 ] && s=$$(( $(FUZZ_SHORT_TOTAL) / n )); \
                    [ $$s -lt 5 ] && s=5; echo $$s)
fuzz-short:
	@if command -v clang >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory -j$(JOBS) $(FUZZ_BINS) && \
	  sh tests/run-fuzz.sh $(FUZZ_SHORT_SECS) $(FUZZ_BINS); \
	else echo "fuzz: clang not found, fuzz runs skipped"; fi

fuzz: $(FUZZ_BINS)
	sh tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# check builds with JOBS parallel compilers (the machine's CPUs); the tests
# themselves run one at a time (they measure nothing, but share loopback
# ports and the CPU with the daemons they start)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@$(MAKE) --no-print-directory -j$(JOBS) unit
	@$(MAKE) --no-print-directory integration
	@PF_SKIP_NONROOT=1 bash tests/postfix/run.sh
	@$(MAKE) --no-print-directory -j$(JOBS) unit-san
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-short
	@echo "make check: all passed"

run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@KEEP=$(KEEP) sh samples/run-relay.sh

# the niftp file-transfer demonstration (put/get against niftp serve)
run-niftp: deps
	@$(MAKE) --no-print-directory all
	@KEEP=$(KEEP) sh samples/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@sh tests/bench/run.sh

# side by side with Postfix (issue 9; doc/bench.md): as root, installs Postfix
# when missing; not part of check or bench
bench-peers:
	@$(MAKE) --no-print-directory all
	@bash tests/bench/peers.sh

# the smtp channel and niftpmail-sendmail under Postfix's pipe(8), beside
# Postfix alone (issue 11; doc/bench.md): as root, installs Postfix when
# missing; BENCH_N letters (500). make bench runs it too (tests/bench/run.sh
# runs every bench_*.sh; without root it says so and is skipped)
bench-smtp:
	@$(MAKE) --no-print-directory all
	@bash tests/bench/bench_smtp.sh

# one node with BENCH_N (100000) letters queued: its memory and the time it
# takes to start again (issue 9; doc/bench.md); not part of check
bench-startup: deps
	@$(MAKE) --no-print-directory all
	@sh tests/bench/bench_startup.sh

# --- make install, make uninstall (service/install.sh does the work) -----
# Daemons (mailrelayd, vcgw) into PREFIX/sbin as Postfix does, niftp,
# mailctl and niftpmail-sendmail into PREFIX/bin; man pages into
# PREFIX/share/man/manN; systemd units into PREFIX/lib/systemd/system
# (systemd reads /usr/local/lib/systemd/system and /usr/lib/systemd/system).
# The configuration lives in /etc/niftpmail whatever PREFIX is, because the
# programs' default path is compiled in (relay/conf.h CONF_DEFAULT_PATH);
# a file there is never overwritten. The service user is made only by
# root installing with DESTDIR empty.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
SBINDIR  = $(PREFIX)/sbin
MANDIR   = $(PREFIX)/share/man
UNITDIR  = $(PREFIX)/lib/systemd/system
CONFDIR  = /etc/niftpmail
SPOOLDIR = /var/spool/niftpmail
SERVICE_USER = niftpmail
INSTALL_ENV = DESTDIR='$(DESTDIR)' BINDIR='$(BINDIR)' SBINDIR='$(SBINDIR)' \
              MANDIR='$(MANDIR)' UNITDIR='$(UNITDIR)' CONFDIR='$(CONFDIR)' \
              SPOOLDIR='$(SPOOLDIR)' SERVICE_USER='$(SERVICE_USER)' BUILT='$(BIN)'

install: $(PROGS)
	@$(INSTALL_ENV) sh service/install.sh install

uninstall:
	@$(INSTALL_ENV) sh service/install.sh uninstall

clean:
	rm -rf build build-san build-fuzz bin

-include $(shell find build build-san build-fuzz -name '*.d' 2>/dev/null)
