# Palisade: build, run and test. Needs only Go (and make).

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS_BIN := $(CURDIR)/tools/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
MODULES   := ./proto/... ./pkg/... ./console/... ./sensor/...
DATA_DIR  ?= $(CURDIR)/data

.PHONY: all build run test test-short generate check-generated lint bench bench-dispatch bench-sensor bench-scale catalogue-doc test-postgres bench-postgres clean tools

all: build

build: ## build palisade-console and palisade-sensor into ./bin
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/palisade-console ./console/cmd/palisade-console
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/palisade-sensor ./sensor/cmd/palisade-sensor

run: build ## start the console on the embedded defaults, enrol a local sensor and scan this machine
	DATA_DIR=$(DATA_DIR) BIN=$(BIN) bash scripts/run.sh

test: ## the whole test suite, with the race detector
	$(GO) test -race -count=1 $(MODULES)
	@echo "browser test screenshots: $${PALISADE_SCREENSHOT_DIR:-$${TMPDIR:-/tmp}/palisade-screenshots}"

test-short:
	$(GO) test -short -count=1 $(MODULES)

# The PostgreSQL store's tests and benchmarks need a server: PALISADE_TEST_POSTGRES is its URL
# (each test works in a schema of its own, dropped afterwards). `make test` runs them too when
# the variable is set in the environment, and skips them otherwise.
test-postgres bench-postgres: export PALISADE_TEST_POSTGRES ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

test-postgres: ## the store conformance suites (SQLite and PostgreSQL), failing when PostgreSQL is unreachable
	CI=true $(GO) test -race -count=1 ./console/internal/store/...

bench-postgres: ## results/s into PostgreSQL through StoreBatch against a raw COPY of the same rows
	@$(GO) test -run '^$$' -bench 'BenchmarkStoreBatch|BenchmarkCopyRaw' -benchtime 500x ./console/internal/store/postgres/ | tee /dev/stderr | \
	  awk '/results\/s/ { for (i = 1; i < NF; i++) if ($$(i+1) == "results/s") r[$$1] = $$i } \
	       END { for (k in r) if (k ~ /^BenchmarkCopyRaw/) raw = r[k]; \
	             for (k in r) if (k ~ /^BenchmarkStoreBatch/) printf "%s: %.0f results/s = %.2f x raw COPY (%.0f results/s)\n", k, r[k], r[k] / raw, raw }'

tools: ## build the pinned code generators into tools/bin
	cd tools && GOWORK=off $(GO) build -o $(TOOLS_BIN)/ github.com/bufbuild/buf/cmd/buf google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc

generate: tools ## regenerate the protobuf Go code under proto/gen
	cd proto && rm -rf gen && PATH=$(TOOLS_BIN):$$PATH buf lint && PATH=$(TOOLS_BIN):$$PATH buf generate

check-generated: generate ## fail when the committed generated code is stale
	git diff --exit-code -- proto/gen
	test -z "$$(git status --porcelain -- proto/gen)"

lint: ## gofmt, go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(MODULES)

bench: bench-dispatch ## every benchmark that prints a headline figure

bench-dispatch: ## time from `scan start` to the first stored result on loopback; one job to each of 10,000 subscribed nodes
	$(GO) test -run '^$$' -bench BenchmarkStartToFirstResult -benchtime 20x ./console/internal/e2e/
	$(GO) test -run '^$$' -bench BenchmarkDispatchToSubscribedNodes -benchtime 3x ./console/internal/bus/

bench-sensor: ## full-catalogue scan of a fixture root and of / (wall, peak RSS); OpenSCAP CIS profile alongside when installed
	$(GO) test -run '^$$' -bench BenchmarkScan -benchmem ./pkg/engine/
	GO=$(GO) BIN=$(BIN) bash scripts/bench-sensor.sh

catalogue-doc: ## regenerate the generated sections of docs/catalogue.md
	$(GO) run ./pkg/catalog/cmd/catalogdoc

bench-scale: ## N simulated sensors (default 10000) against a console process: dispatch, ingest, memory
	N=$(N) BIN=$(BIN) GO=$(GO) bash scripts/bench-scale.sh

clean:
	rm -rf $(BIN) $(TOOLS_BIN)
