# SmartMarket build. `make` builds build/smartmarket; `make help` lists targets.
# Sources are found by wildcard: a new .c under src/ needs no edit here.
# C everywhere; the one C++ file is src/ml/ann.cc, the shim over FAISS
# (docs/ML.md "Approximate index"), compiled with CXX and the same SAN.

CC       ?= cc
PKGS     := libuv jansson libsodium sqlite3 libpq zlib libcurl hiredis libutf8proc lapacke openblas libcrypto
BUILD    ?= build
SAN      ?=

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral -Wvla
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -D_GNU_SOURCE -pthread $(WARN) -Isrc -I$(BUILD)/gen \
            $(shell pkg-config --cflags $(PKGS)) $(SAN)
CXX      ?= g++
CXXFLAGS ?= $(filter -O% -g%,$(CFLAGS))
CXXFLAGS += -std=c++17 -D_GNU_SOURCE -pthread -fopenmp -Wall -Wextra -Werror -Wshadow -Isrc $(SAN)
# libfaiss.a (no shared library in Debian) before the BLAS it calls; then
# OpenMP and the C++ runtime it needs, since the link runs through $(CC).
LDLIBS   += -lfaiss $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lwslay -lstemmer \
            -lgomp -lstdc++ -lpthread -lm
LDFLAGS  += $(SAN)

SRC      := $(shell find src -name '*.c' | sort)
CXXSRC   := $(shell find src -name '*.cc' | sort)
OBJ      := $(SRC:%.c=$(BUILD)/%.o) $(CXXSRC:%.cc=$(BUILD)/%.o) $(BUILD)/gen/migrations_data.o
LIBOBJ   := $(filter-out $(BUILD)/src/main.o,$(OBJ))
DEP      := $(OBJ:.o=.d)
MIGR     := $(sort $(wildcard src/db/migrations/*.sql))

UNIT_SRC := $(shell find tests/unit -name '*.c' 2>/dev/null | sort)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: FORCE all help clean test unit e2e asan coverage format format-check tidy bench deps
all: $(BUILD)/smartmarket

help:
	@echo "make            build build/smartmarket"
	@echo "make unit       build and run the C unit tests (cmocka)"
	@echo "make test       everything: scripts/test.sh (unit + e2e on SQLite and PostgreSQL)"
	@echo "make asan       the whole suite under ASan+UBSan (build-asan/)"
	@echo "make coverage   the whole suite on a --coverage build; gcovr report (build-cov/)"
	@echo "make format     clang-format -i; make format-check fails on a diff"
	@echo "make tidy       clang-tidy over src/"
	@echo "make deps       install the Debian packages the build needs"

$(BUILD)/smartmarket: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c -o $@ $<

# Migrations are SQL files embedded into the binary as C arrays. The list
# file changes whenever a migration is added or removed, so a new file
# regenerates the table even when its mtime is older than the last build.
$(BUILD)/gen/migrations.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(MIGR)' | cmp -s - $@ || echo '$(MIGR)' > $@

$(BUILD)/gen/migrations_data.c: $(MIGR) $(BUILD)/gen/migrations.list scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-migrations.sh $(MIGR) > $@

$(BUILD)/gen/migrations_data.o: $(BUILD)/gen/migrations_data.c
	$(CC) $(CFLAGS) -c -o $@ $<

# Each unit test is one program linked against every object but main.o.
$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIBOBJ) $(LDLIBS) $(shell pkg-config --libs cmocka) $(LDFLAGS)

unit: $(UNIT_BIN)
	@sh scripts/run-unit.sh $(UNIT_BIN)

test:
	sh scripts/test.sh

# CFLAGS goes through the environment, not the command line: a command-line
# CFLAGS would override the `+=` lines above and drop -Isrc, -std and warnings.
ASAN_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	CFLAGS="-O1 -g" $(MAKE) BUILD=build-asan SAN="$(ASAN_SAN)"
	CFLAGS="-O1 -g" SM_BUILD=build-asan SM_SAN="$(ASAN_SAN)" sh scripts/test.sh

coverage:
	bash scripts/coverage.sh

format:
	clang-format -i $(SRC) $(CXXSRC) $(shell find src tests/unit -name '*.h' -o -name '*.c' | grep -v '^src/.*\.c$$')

format-check:
	clang-format --dry-run --Werror $(shell find src tests/unit -name '*.c' -o -name '*.cc' -o -name '*.h')

# One clang-tidy per file, so `make -j2 tidy` uses both cores.
TIDY_STAMPS := $(SRC:%.c=$(BUILD)/tidy/%.ok)
tidy: $(TIDY_STAMPS)

$(BUILD)/tidy/%.ok: %.c .clang-tidy $(BUILD)/gen/migrations_data.c
	@mkdir -p $(dir $@)
	clang-tidy --quiet $< -- $(CFLAGS) > $@.log 2>&1 || { cat $@.log; exit 1; }
	@mv $@.log $@

bench: all
	sh bench/http.sh

deps:
	sh scripts/deps.sh

clean:
	rm -rf build build-asan

-include $(DEP)
