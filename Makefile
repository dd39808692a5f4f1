# eipconform — the two commands that matter are in README.md:
#   go run ./cmd/eipconform run     the main job
#   make test                       the tests
GO        ?= go
BUILD     ?= build
PKGS      ?= ./...
TESTFLAGS ?= -race -count=1
FUZZTIME  ?= 30s
BENCHCOUNT    ?= 5
BENCHTIME     ?= 1s
BENCHFUZZTIME ?= 15s

.PHONY: test lint bench fuzz build clean

test:
	@mkdir -p $(BUILD)
	$(GO) tool gotestsum --format testname --junitfile $(BUILD)/junit.xml -- $(TESTFLAGS) $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# bench prints the machine, runs every benchmark of PKGS BENCHCOUNT times (raw output in
# $(BUILD)/bench.txt, for benchstat), prints their medians and ranges and the headline
# figures, then fuzzes every target for BENCHFUZZTIME (execs/s per target); see
# scripts/bench.sh.
bench:
	GO="$(GO)" BUILD="$(BUILD)" PKGS="$(PKGS)" BENCHCOUNT="$(BENCHCOUNT)" BENCHTIME="$(BENCHTIME)" \
		BENCHFUZZTIME="$(BENCHFUZZTIME)" scripts/bench.sh

# fuzz runs every FuzzXxx of PKGS in turn for FUZZTIME on one core (-parallel 1), prints
# execs/s per target and stops at the first crasher, which stays in testdata/fuzz.
fuzz:
	GO="$(GO)" FUZZTIME="$(FUZZTIME)" PKGS="$(PKGS)" scripts/fuzz.sh

build:
	$(GO) build -o $(BUILD)/eipconform ./cmd/eipconform

clean:
	rm -rf $(BUILD)
