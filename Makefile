# pgferry: the logical decoding output plugin and extension (built with
# PGXS) and the pgferry applier binary (plain C with libpq).
#
#   make            build pgferry.so and applier/pgferry
#   make install    install the plugin, the extension and the binary
#   make test       install what is missing, build, install, run every suite
#   make demo       migrate a sample database between two throwaway servers
#   make bench      benchmarks against the peers (pgoutput, wal2json, ...)
#   make bench-scale  copy, indexes and apply at three sizes, projected to 1 TB
#   make fuzz       fuzz the frame decoder (FUZZ_SECONDS per target)
#   make chaos      faults under load, then source and target compared
#                   (CHAOS_SECONDS, CHAOS_SEED)
#   make valgrind   the pg_regress suite against a server under valgrind
#   make installcheck   pg_regress + isolation + TAP suites (as a non-root
#                   user, after make install; what make test runs)

EXTENSION = pgferry
PGFERRY_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pgferry.control)
MODULE_big = pgferry
PROTO_GEN = proto/pgferry.pb-c.c proto/pgferry.pb-c.h
PLUGIN_SRCS = $(sort $(wildcard plugin/*.c))
OBJS = $(PLUGIN_SRCS:.c=.o) proto/pgferry.pb-c.o
# The extension script is the base and the DDL capture, which is also
# installed alone (for a source where CREATE EXTENSION of a C library is
# impossible: psql -f pgferry_ddl.sql).
DATA = sql/pgferry_ddl.sql
DATA_built = sql/pgferry--$(PGFERRY_VERSION).sql
PGFILEDESC = "pgferry - logical decoding output plugin"

SHLIB_LINK = -lprotobuf-c
PG_CPPFLAGS = -Iproto -DPGFERRY_VERSION='"$(PGFERRY_VERSION)"'
WARNINGS = -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
PG_CFLAGS = -std=gnu11 $(WARNINGS)

# Suites: pg_regress files in regress/sql, isolation specs in regress/specs,
# TAP tests (several real servers) in regress/t.
REGRESS = $(sort $(basename $(notdir $(wildcard regress/sql/*.sql))))
REGRESS_OUT = regress/out
REGRESS_CONF = $(REGRESS_OUT)/logical.conf
REGRESS_PREP = $(REGRESS_CONF)
REGRESS_OPTS = --inputdir=regress --outputdir=$(REGRESS_OUT) \
	--temp-instance=$(REGRESS_OUT)/instance --temp-config=$(REGRESS_CONF) \
	--encoding=UTF8
ISOLATION = $(sort $(basename $(notdir $(wildcard regress/specs/*.spec))))
ISOLATION_OPTS = --inputdir=regress --outputdir=$(REGRESS_OUT)/isolation \
	--temp-instance=$(REGRESS_OUT)/isolation-instance \
	--temp-config=$(REGRESS_CONF) --encoding=UTF8
TAP_TESTS = 1
# SUITE=follow (plugin, migrate, verify, cutover, ...) runs one command's
# end-to-end tests.
PROVE_TESTS = $(sort $(wildcard regress/t/$(SUITE)*.pl))
EXTRA_CLEAN = $(PROTO_GEN) $(REGRESS_OUT) applier/pgferry applier/*.o \
	applier/pgferry.1 \
	applier/*/*.o regress/fuzz/out \
	tmp_check

PG_CONFIG ?= pg_config
PGXS := $(wildcard $(shell $(PG_CONFIG) --pgxs 2>/dev/null))
ifneq ($(PGXS),)
include $(PGXS)

# --- the wire format ---------------------------------------------------------
$(PROTO_GEN) &: proto/pgferry.proto
	protoc-c --c_out=proto -Iproto $<

$(OBJS): $(PROTO_GEN) $(wildcard plugin/*.h)

sql/pgferry--$(PGFERRY_VERSION).sql: sql/pgferry_base.sql sql/pgferry_ddl.sql
	cat $^ > $@

# --- the applier -------------------------------------------------------------
# One folder per layer (see DEVELOPERS.md); a file includes "layer/name.h".
APPLIER_LAYERS = common pg stream state catalog apply migrate verify cutover cli
APPLIER_SRCS = $(sort $(wildcard $(APPLIER_LAYERS:%=applier/%/*.c)))
APPLIER_HDRS = $(wildcard $(APPLIER_LAYERS:%=applier/%/*.h))
APPLIER_OBJS = $(APPLIER_SRCS:.c=.o) applier/pgferry.pb-c.o \
	applier/pattern_syntax.o
APPLIER_CFLAGS = -std=gnu11 -O2 -g $(WARNINGS) -Iapplier -I. -Iproto \
	-I$(shell $(PG_CONFIG) --includedir) -DPGFERRY_VERSION='"$(PGFERRY_VERSION)"'
APPLIER_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq -lprotobuf-c -lmicrohttpd -lm

# The binary goes where the server's programs are (pg_config --bindir), with
# a link and the man page under PREFIX; DESTDIR stages all of it.
PREFIX ?= /usr/local
mandir_pgferry = $(PREFIX)/share/man/man1

ifndef NO_APPLIER
all: applier/pgferry applier/pgferry.1
install: install-applier
uninstall: uninstall-applier
endif

applier/%.o: applier/%.c $(PROTO_GEN) $(APPLIER_HDRS) \
		plugin/pattern_syntax.h
	$(CC) $(APPLIER_CFLAGS) $(APPLIER_EXTRA_CFLAGS) -c -o $@ $<

# The pattern parser is plain C, built into the plugin (as one of plugin/*.c)
# and into the applier.
applier/pattern_syntax.o: plugin/pattern_syntax.c plugin/pattern_syntax.h
	$(CC) $(APPLIER_CFLAGS) $(APPLIER_EXTRA_CFLAGS) -c -o $@ $<

applier/pgferry.pb-c.o: proto/pgferry.pb-c.c $(PROTO_GEN)
	$(CC) $(APPLIER_CFLAGS) $(APPLIER_EXTRA_CFLAGS) -c -o $@ $<

applier/pgferry: $(APPLIER_OBJS)
	$(CC) $(APPLIER_EXTRA_CFLAGS) -o $@ $^ $(APPLIER_LIBS)

# pgferry(1): the --help texts, as the binary prints them.
applier/pgferry.1: applier/pgferry scripts/gen-man
	scripts/gen-man applier/pgferry > $@.tmp && mv $@.tmp $@

install-applier: applier/pgferry applier/pgferry.1
	$(MKDIR_P) '$(DESTDIR)$(bindir)' '$(DESTDIR)$(PREFIX)/bin' \
		'$(DESTDIR)$(mandir_pgferry)'
	$(INSTALL_PROGRAM) applier/pgferry '$(DESTDIR)$(bindir)/pgferry'
	ln -sf '$(bindir)/pgferry' '$(DESTDIR)$(PREFIX)/bin/pgferry'
	$(INSTALL_DATA) applier/pgferry.1 '$(DESTDIR)$(mandir_pgferry)/pgferry.1'

uninstall-applier:
	rm -f '$(DESTDIR)$(bindir)/pgferry' '$(DESTDIR)$(PREFIX)/bin/pgferry' \
		'$(DESTDIR)$(mandir_pgferry)/pgferry.1'

# --- fuzzing -------------------------------------------------------------------
# make fuzz: every libFuzzer target (regress/fuzz/fuzz_NAME.c, built with
# clang, AddressSanitizer and UBSan) reads its regression inputs, then fuzzes
# from its seed corpus for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_TARGETS = $(basename $(notdir $(wildcard regress/fuzz/fuzz_*.c)))
FUZZ_CFLAGS = -std=gnu11 -g -O1 $(WARNINGS) -Iapplier -I. -Iproto \
	-I$(shell $(PG_CONFIG) --includedir) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_DECODE_SRCS = applier/stream/decode.c applier/stream/pgoutput.c \
	applier/stream/rel.c \
	applier/common/buf.c applier/common/log.c applier/common/clock.c \
	applier/common/thread.c \
	applier/pg/pg.c applier/pg/pg_flow.c \
	proto/pgferry.pb-c.c

# fuzz_pgoutput.c is fuzz_decode.c compiled for pgoutput's messages.
regress/fuzz/out/fuzz_%: regress/fuzz/fuzz_%.c regress/fuzz/fuzz_decode.c \
		$(FUZZ_DECODE_SRCS) $(PROTO_GEN) $(APPLIER_HDRS)
	$(MKDIR_P) regress/fuzz/out
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_DECODE_SRCS) $(APPLIER_LIBS)

fuzz: $(FUZZ_TARGETS:%=regress/fuzz/out/%)
	for t in $(FUZZ_TARGETS); do regress/fuzz/run $$t $(FUZZ_SECONDS) || exit 1; done

# The server must allow pgferry as an output plugin; servers before 15.19
# have no output_plugin_libraries setting and would refuse the line.
$(REGRESS_CONF): regress/logical.conf
	$(MKDIR_P) $(REGRESS_OUT)
	cp regress/logical.conf $@
	if $(bindir)/postgres --describe-config 2>/dev/null | \
		grep -q '^output_plugin_libraries'; then \
		echo "output_plugin_libraries = 'pgoutput, test_decoding, pgferry'" >> $@; \
	fi

else
all install installcheck:
	@echo "pgferry: PostgreSQL 15 server headers not found; run scripts/install-deps as root (make test does)" >&2
	@exit 1
endif

# --- checks and entry points ---------------------------------------------------
lint:
	clang-format --dry-run --Werror plugin/*.[ch] applier/*/*.[ch] regress/fuzz/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--inline-suppr --suppress=missingIncludeSystem \
		-Iproto -Iapplier -I. plugin applier
	scripts/check-layers $(APPLIER_LAYERS)

format:
	clang-format -i plugin/*.[ch] applier/*/*.[ch] regress/fuzz/*.c

test:
	scripts/run-tests

demo:
	scripts/demo

bench:
	scripts/bench

bench-scale:
	scripts/bench scale

# regress/t/chaos.pl alone (make test runs it too, CHAOS_SECONDS=40)
chaos:
	SUITE=chaos scripts/run-tests

valgrind:
	scripts/valgrind

.PHONY: install-applier uninstall-applier lint format test demo bench bench-scale fuzz chaos valgrind
