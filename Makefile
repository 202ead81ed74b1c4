# Palisade: build, run and test. Needs only Go (and make).

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS_BIN := $(CURDIR)/tools/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
MODULES   := ./proto/... ./pkg/... ./console/... ./sensor/...
DATA_DIR  ?= $(CURDIR)/data

.PHONY: all build run test test-short generate check-generated lint bench bench-dispatch bench-sensor clean tools

all: build

build: ## build palisade-console and palisade-sensor into ./bin
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/palisade-console ./console/cmd/palisade-console
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/palisade-sensor ./sensor/cmd/palisade-sensor

run: build ## start the console on the embedded defaults, enrol a local sensor and scan this machine
	DATA_DIR=$(DATA_DIR) BIN=$(BIN) bash scripts/run.sh

test: ## the whole test suite, with the race detector
	$(GO) test -race -count=1 $(MODULES)

test-short:
	$(GO) test -short -count=1 $(MODULES)

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

bench-dispatch: ## time from `scan start` to the first stored result on loopback
	$(GO) test -run '^$$' -bench BenchmarkStartToFirstResult -benchtime 20x ./console/internal/e2e/

bench-sensor: ## full-catalogue scan of a fixture root
	$(GO) test -run '^$$' -bench BenchmarkScan -benchmem ./pkg/engine/

clean:
	rm -rf $(BIN) $(TOOLS_BIN)
