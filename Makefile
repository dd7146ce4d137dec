# libhastls: plain GNU make.  `make` builds build/libhastls.so and build/hastls.
# Sources are picked up by folder, so adding a file needs no edit here:
#   policy/*.c          pure policy code: configuration, HASTLS codec, every verdict
#                       rule; linked into every product
#   shim/hooks/*.c      the interposed libc symbols (inside other people's programs)
#   shim/core/*.c       the shim's core: front cache, address memory, lookups,
#                       enforcement, process state (inside programs too; the CLI
#                       and unit tests link the parts they need)
#   shim/resolver/*.c   libhastls-resolver.so: dlopen()ed by the shim on first
#                       lookup, linked into the CLI
#   shim/cli/*.c        the hastls command-line tool (never inside other programs)
#   tests/unit/test_*.c cmocka unit tests (each one binary)
#   tests/fuzz/fuzz_*.c libFuzzer targets

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
LIBDIR   ?= $(PREFIX)/lib
BINDIR   ?= $(PREFIX)/bin
PKGLIBDIR ?= $(LIBDIR)/hastls
SYSCONFDIR ?= /etc
MANDIR   ?= $(PREFIX)/share/man
# systemd user units (scripts/systemd/): PREFIX/lib/systemd/user is in the
# user manager's search path for /usr and /usr/local alike.
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
VERSION  := 0.1.0
# Every test runner appends PASS/FAIL lines here; tests/summary counts them.
RESULTS  ?= $(abspath $(BUILD))/results.txt
export RESULTS

CC       ?= cc
FUZZ_CC  ?= clang
CPPFLAGS += -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -I. -DHASTLS_VERSION='"$(VERSION)"' \
            -DHASTLS_PKGLIBDIR='"$(PKGLIBDIR)"' -DHASTLS_LIBDIR='"$(LIBDIR)"' \
            -DHASTLS_BINDIR='"$(BINDIR)"'
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
            -fstack-protector-strong -pthread
LDFLAGS  += -Wl,-z,relro,-z,now -pthread

POLICY_SRC   := $(wildcard policy/*.c)
SHIM_HOOKS   := $(wildcard shim/hooks/*.c)
SHIM_CORE    := $(wildcard shim/core/*.c)
RESOLVER_SRC := $(wildcard shim/resolver/*.c)
CLI_SRC      := $(wildcard shim/cli/*.c)
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

RESOLVER_LIBS := -lunbound -lssl -lcrypto
INIH_LIBS     := -linih

LIBPOLICY   := $(BUILD)/libpolicy.a
LIBSHIMCORE := $(BUILD)/libshimcore.a
LIBRESOLVER := $(BUILD)/libresolver.a
SHIM_SO     := $(BUILD)/libhastls.so
RESOLVER_SO := $(BUILD)/libhastls-resolver.so
CLI         := $(BUILD)/hastls
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

.PHONY: all check unit unit-asan fuzz fuzz-build lab-selftest integration integration-asan \
        install uninstall man clean deps demo bench format deb package-test
all: $(SHIM_SO) $(RESOLVER_SO) $(CLI)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The installation directories compiled into the shim and the CLI (the
# HASTLS_*DIR macros above).  $(DIRS_STAMP) holds the configured set and is
# rewritten only when it changes; the objects whose sources use one of the
# macros depend on it.  So `make && make PREFIX=/usr install` recompiles them
# and relinks what contains them before installing, and a build can never be
# installed into directories it was not made for.
DIRS_STAMP := $(BUILD)/dirs.stamp
DIRS_SET   := PKGLIBDIR=$(PKGLIBDIR) LIBDIR=$(LIBDIR) BINDIR=$(BINDIR)
DIRS_USERS := $(shell grep -l -E 'HASTLS_(PKGLIB|LIB|BIN)DIR' \
                  $(POLICY_SRC) $(SHIM_HOOKS) $(SHIM_CORE) $(RESOLVER_SRC) $(CLI_SRC))
$(call obj,$(DIRS_USERS)): $(DIRS_STAMP)
$(DIRS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = '$(DIRS_SET)' ] || printf '%s\n' '$(DIRS_SET)' >$@
.PHONY: FORCE
FORCE:

$(LIBPOLICY): $(call obj,$(POLICY_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^
$(LIBSHIMCORE): $(call obj,$(SHIM_CORE))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^
$(LIBRESOLVER): $(call obj,$(RESOLVER_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

# The preloaded object: libc and inih only (see shared/DESIGN.md).  inih is
# linked in from its static archive (its symbols kept local): mapping one more
# shared object costs every process start page faults.
SHIM_INIH_LIBS ?= -Wl,--exclude-libs,libinih.a -l:libinih.a
$(SHIM_SO): $(call obj,$(SHIM_HOOKS) $(SHIM_CORE)) $(LIBPOLICY)
	$(CC) -shared $(LDFLAGS) -o $@ $(call obj,$(SHIM_HOOKS) $(SHIM_CORE)) $(LIBPOLICY) $(SHIM_INIH_LIBS) -ldl

# The resolver object, loaded with dlopen() on the first lookup.
$(RESOLVER_SO): $(LIBRESOLVER) $(LIBPOLICY)
	$(CC) -shared $(LDFLAGS) -o $@ -Wl,--whole-archive $(LIBRESOLVER) -Wl,--no-whole-archive \
	    $(LIBPOLICY) $(RESOLVER_LIBS) $(INIH_LIBS)

# The CLI takes from the shim core only what it calls (the hosts-file reader,
# so `hastls check` answers /etc/hosts names as the shim does).
$(CLI): $(call obj,$(CLI_SRC)) $(LIBSHIMCORE) $(LIBRESOLVER) $(LIBPOLICY)
	$(CC) $(LDFLAGS) -pie -o $@ $(call obj,$(CLI_SRC)) $(LIBSHIMCORE) $(LIBRESOLVER) $(LIBPOLICY) \
	    $(RESOLVER_LIBS) $(INIH_LIBS)

# Unit tests link the static archives; the linker takes only what a test uses.
$(BUILD)/tests/%: tests/unit/%.c $(LIBSHIMCORE) $(LIBRESOLVER) $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBSHIMCORE) $(LIBRESOLVER) $(LIBPOLICY) \
	    $(RESOLVER_LIBS) $(INIH_LIBS) -lcmocka -ldl

# libFuzzer targets: each is built with clang from its own source plus the
# policy and resolver sources (sanitizers on).
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# A target that exercises shim core code names its sources in FUZZ_EXTRA_<name>.
FUZZ_EXTRA_fuzz_hosts := shim/core/hosts.c shim/core/hostname.c
FUZZ_EXTRA_fuzz_resolvconf := shim/core/search.c
FUZZ_EXTRA_fuzz_sharedtab := shim/core/sharedtab.c
FUZZ_EXTRA_fuzz_ai_services := shim/core/ai.c shim/core/real.c shim/core/ip.c
$(BUILD)/fuzz/fuzz_hosts: $(FUZZ_EXTRA_fuzz_hosts)
$(BUILD)/fuzz/fuzz_resolvconf: $(FUZZ_EXTRA_fuzz_resolvconf)
$(BUILD)/fuzz/fuzz_sharedtab: $(FUZZ_EXTRA_fuzz_sharedtab)
$(BUILD)/fuzz/fuzz_ai_services: $(FUZZ_EXTRA_fuzz_ai_services)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(POLICY_SRC) $(RESOLVER_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=gnu11 -I. $(FUZZ_FLAGS) -o $@ $< $(FUZZ_EXTRA_$*) $(POLICY_SRC) \
	    $(RESOLVER_SRC) $(RESOLVER_LIBS) $(INIH_LIBS) -pthread

deps:
	@scripts/install-deps

# `make check`: every test.  Installs missing Debian packages first.
# Each stage records its results and carries on (KEEP_GOING), so one run shows
# every failure; tests/summary prints the closing count and sets the status.
check: deps
	@rm -f $(RESULTS)
	$(MAKE) all
	$(MAKE) KEEP_GOING=1 unit
	$(MAKE) KEEP_GOING=1 unit-asan
	$(MAKE) KEEP_GOING=1 fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-10}
	$(MAKE) KEEP_GOING=1 integration
	$(MAKE) KEEP_GOING=1 integration-asan
	$(MAKE) KEEP_GOING=1 package-test
	@tests/summary $(RESULTS)

unit: $(UNIT_BINS)
	@tests/run-unit $(UNIT_BINS)

# The same unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
# CFLAGS/LDFLAGS go through the environment so that the Makefile's own
# additions (-std, warnings, -Werror, -fPIC, -pthread) still apply.
unit-asan:
	CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=address,undefined" $(MAKE) BUILD=$(BUILD)/asan RESULTS=$(RESULTS) TEST_TAG=asan unit

FUZZ_SECONDS ?= 60
fuzz-build: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	@tests/run-fuzz $(BUILD) $(FUZZ_SECONDS) $(FUZZ_BINS)

# Lab-based tests: every tests/integration/*.sh runs inside scripts/lab.
integration: all
	@tests/run-integration $(BUILD)

# The shim's lab tests once more with libhastls.so and libhastls-resolver.so
# built under AddressSanitizer and UndefinedBehaviorSanitizer.  The programs
# under test (curl, python3, getent...) are not instrumented, so the ASan
# runtime has to be the first object loaded: tests/tools/shim_lib.sh preloads
# HASTLS_PRELOAD (libasan, then the shim).  detect_leaks=0: those programs leave
# memory allocated at exit on purpose (and LSan would also count the shim's
# process-lifetime cache); a leak report would fail every test without saying
# anything about the shim.  verify_asan_link_order=0: one test stacks another
# preloaded library in front on purpose.  shim_lib.sh adds log_path= inside the
# lab, and a test fails if any sanitizer report was written.  CFLAGS and
# LDFLAGS go through the environment, so the Makefile's -fPIC, -std and
# warning flags are still added to them.
# Only tests/integration/shim_*.sh, the agent's scripts, the DANE scripts
# (dane_*.sh: the TLS hooks run inside the programs' handshakes) and
# hastls_run_coverage.sh (hastls run reading ELF files of real programs and
# libraries): the resolver_* and cli_* scripts exercise the CLI and the
# resolver API, not the preloaded shim.  The hastls CLI is built with the sanitizers too, next to
# the shim, where the shim finds the hastls it starts as the user's agent: so
# the agent (its server, its resolver, socket activation) runs instrumented
# as well, its reports going to the same log_path.  It is an instrumented
# executable, not a preloaded object, so nothing goes in front of it.  About
# two minutes under the sanitizers on 2 cores (build included).  curl and
# wget run without the runtime in front (see shim_lib.sh): in dane_*.sh the
# heap checks of the TLS hooks come from python3 and openssl s_client.
ASAN_SHIM_BUILD := $(BUILD)/asan-shim
ASAN_SHIM_TESTS ?= $(wildcard tests/integration/shim_*.sh) tests/integration/agent.sh \
                   tests/integration/agent_life.sh $(wildcard tests/integration/dane_*.sh) \
                   tests/integration/hastls_run_coverage.sh
integration-asan:
	CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=address,undefined" $(MAKE) BUILD=$(ASAN_SHIM_BUILD) \
	    $(ASAN_SHIM_BUILD)/libhastls.so $(ASAN_SHIM_BUILD)/libhastls-resolver.so \
	    $(ASAN_SHIM_BUILD)/hastls
	@HASTLS_PRELOAD="$$($(CC) -print-file-name=libasan.so) $(abspath $(ASAN_SHIM_BUILD))/libhastls.so" \
	    ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    TEST_TAG=asan tests/run-integration $(ASAN_SHIM_BUILD) $(ASAN_SHIM_TESTS)

# The Debian package built (make deb), installed on this machine with apt,
# used in the lab from its installed paths, and purged (tests/package.sh; as
# root).  Skipped, with a SKIP line, where dpkg-buildpackage is missing.
package-test:
	@tests/package.sh $(BUILD)

demo: deps all
	@scripts/demo

# Benchmark programs: libc only, built for `make bench` alone (not all, not check).
BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
.PHONY: bench-build
bench-build: $(BENCH_BINS)
$(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O2 $(LDFLAGS) -o $@ $<

bench: deps all bench-build
	@HASTLS_BUILD=$(abspath $(BUILD)) scripts/bench

# Every row once with tiny counts: fails when a row produced no number (about
# 10 s; not part of check, which never times anything).
.PHONY: bench-smoke bench-table
bench-smoke: deps all bench-build
	@HASTLS_BUILD=$(abspath $(BUILD)) scripts/bench --smoke

# The table of the last run ($(BUILD)/bench.json), as README's Performance
# section shows it.
bench-table:
	@HASTLS_BUILD=$(abspath $(BUILD)) scripts/bench --table

# Man pages: docs/NAME.SECTION.scd -> $(BUILD)/man/NAME.SECTION (scdoc).
MAN_SRC   := $(wildcard docs/*.scd)
MAN_PAGES := $(patsubst docs/%.scd,$(BUILD)/man/%,$(MAN_SRC))
DOCDIR    ?= $(PREFIX)/share/doc/hastls
man: $(MAN_PAGES)
$(BUILD)/man/%: docs/%.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp && mv $@.tmp $@

# The wrapper scripts learn where the shim is installed; in a source tree the
# placeholders stay and they use ../build instead.
USER_UNITS := hastls-agent.socket hastls-agent.service
SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g'
# Installs the example configuration, never a hastls.conf: the built-in
# defaults apply until the administrator writes one.
# The shim and the CLI carry PKGLIBDIR, LIBDIR and BINDIR from the build;
# `all` rebuilds them for the directories given here (see DIRS_STAMP).
install: all man
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(SYSCONFDIR)/hastls $(DESTDIR)$(DOCDIR) $(DESTDIR)$(USERUNITDIR)
	install -m 0755 $(SHIM_SO) $(DESTDIR)$(LIBDIR)/libhastls.so
	install -m 0755 $(RESOLVER_SO) $(DESTDIR)$(PKGLIBDIR)/libhastls-resolver.so
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/hastls
	for f in hastls-run hastls-shell; do \
	    $(SUBST) scripts/$$f >$(DESTDIR)$(BINDIR)/$$f.tmp && \
	    chmod 0755 $(DESTDIR)$(BINDIR)/$$f.tmp && \
	    mv $(DESTDIR)$(BINDIR)/$$f.tmp $(DESTDIR)$(BINDIR)/$$f || exit 1; \
	done
	for p in $(MAN_PAGES); do \
	    install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$${p##*.}/ || exit 1; \
	done
	# The agent's user units name the installed hastls; not enabled here
	# (each user runs systemctl --user enable --now hastls-agent.socket).
	for u in $(USER_UNITS); do \
	    $(SUBST) scripts/systemd/$$u >$(DESTDIR)$(USERUNITDIR)/$$u.tmp && \
	    chmod 0644 $(DESTDIR)$(USERUNITDIR)/$$u.tmp && \
	    mv $(DESTDIR)$(USERUNITDIR)/$$u.tmp $(DESTDIR)$(USERUNITDIR)/$$u || exit 1; \
	done
	# hastls-shell is documented in hastls-run(1).
	printf '.so man1/hastls-run.1\n' >$(DESTDIR)$(MANDIR)/man1/hastls-shell.1
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/hastls-shell.1
	install -m 0644 docs/hastls.conf.example $(DESTDIR)$(SYSCONFDIR)/hastls/hastls.conf.example
	install -m 0644 README.md LICENSE docs/INSTALL.md docs/hastls.conf.example \
	    $(DESTDIR)$(DOCDIR)/
	# The example drop-in names the installed shim and wrapper.
	sed -e 's|/usr/local/lib/libhastls.so|$(LIBDIR)/libhastls.so|g' \
	    -e 's|/usr/local/bin/hastls-run|$(BINDIR)/hastls-run|g' \
	    docs/hastls-systemd.conf >$(DESTDIR)$(DOCDIR)/hastls-systemd.conf
	chmod 0644 $(DESTDIR)$(DOCDIR)/hastls-systemd.conf

# Removes what install put there; a hastls.conf written by the administrator
# stays, and so do directories that are not empty.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libhastls.so $(DESTDIR)$(PKGLIBDIR)/libhastls-resolver.so \
	    $(DESTDIR)$(BINDIR)/hastls $(DESTDIR)$(BINDIR)/hastls-run $(DESTDIR)$(BINDIR)/hastls-shell \
	    $(DESTDIR)$(SYSCONFDIR)/hastls/hastls.conf.example
	for p in $(notdir $(MAN_PAGES)) hastls-shell.1; do rm -f $(DESTDIR)$(MANDIR)/man$${p##*.}/$$p; done
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,README.md LICENSE INSTALL.md hastls.conf.example hastls-systemd.conf)
	rm -f $(addprefix $(DESTDIR)$(USERUNITDIR)/,$(USER_UNITS))
	for d in $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(SYSCONFDIR)/hastls $(DESTDIR)$(DOCDIR); do \
	    rmdir $$d 2>/dev/null || true; \
	done

# `make deb`: the Debian package (debian/), built from a clean export of HEAD
# (never from this tree and its build directory; uncommitted changes are not
# in it) with dpkg-buildpackage, checked with lintian (an error or an
# unexplained warning fails), and copied to DEB_DIR: libhastls_VERSION_ARCH.deb
# and its -dbgsym package.  About 10 s on two cores.
DEB_DIR  ?= .
DEB_JOBS ?= auto
DEB_TMP := $(abspath $(BUILD))/deb-src
# The package's own make must not inherit this one's variables (a BUILD= from
# the command line would make its `make clean` remove this build directory).
DEB_UNSET := MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES BUILD PREFIX DESTDIR LIBDIR BINDIR \
             PKGLIBDIR SYSCONFDIR MANDIR DOCDIR USERUNITDIR RESULTS CC FUZZ_CC CFLAGS CPPFLAGS LDFLAGS
deb:
	@git rev-parse --verify -q HEAD >/dev/null || { echo "make deb: not a git checkout;" \
	    "in an unpacked source tree run dpkg-buildpackage -us -uc -b" >&2; exit 1; }
	@git diff --quiet HEAD -- || echo "make deb: note: building HEAD; uncommitted changes are not included" >&2
	rm -rf $(DEB_TMP) && mkdir -p $(DEB_TMP)
	git archive --format=tar --prefix=libhastls-$(VERSION)/ HEAD | tar -xf - -C $(DEB_TMP)
	cd $(DEB_TMP)/libhastls-$(VERSION) && \
	    env $(addprefix -u ,$(DEB_UNSET)) dpkg-buildpackage -us -uc -b -j$(DEB_JOBS)
	lintian --fail-on error,warning $(DEB_TMP)/libhastls_$(VERSION)_*.changes
	mkdir -p $(DEB_DIR) && cp $(DEB_TMP)/*.deb $(DEB_DIR)/
	rm -rf $(DEB_TMP)
	@ls $(DEB_DIR)/libhastls*_$(VERSION)_*.deb

format:
	clang-format -i $(POLICY_SRC) $(wildcard policy/*.h) $(wildcard shim/*/*.[ch]) \
	    $(UNIT_SRC) $(FUZZ_SRC)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
