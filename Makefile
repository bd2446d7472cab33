# Warren: `make help` lists the targets.
GO       ?= go
PKGS     ?= ./...
FUZZTIME ?= 60s

.PHONY: help run build generate check-generate fmt vet lint test fuzz bench bench-compare bench-sweep bench-stream-replay bench-stream bench-stream-group conformance conformance-rabbitmq chaos restart-time

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

# make run LISTEN=127.0.0.1:5673 when 5672 is taken (by a local RabbitMQ, say); ARGS go to
# warren as they are: make run ARGS='--log-level debug --disk-free-limit 1GiB'.
# MGMT_LISTEN is the management HTTP API's address (MGMT_LISTEN=127.0.0.1:15673 beside a
# RabbitMQ, or off).
LISTEN      ?= 127.0.0.1:5672
MGMT_LISTEN ?= 127.0.0.1:15672
# STREAM_LISTEN is the stream protocol's address (STREAM_LISTEN=127.0.0.1:5553 beside a RabbitMQ, or off).
STREAM_LISTEN ?= 127.0.0.1:5552
ARGS        ?=

run: ## run the broker on LISTEN (127.0.0.1:5672), the management API on MGMT_LISTEN (127.0.0.1:15672), the stream protocol on STREAM_LISTEN (127.0.0.1:5552), data under ./data, guest/guest on loopback; ARGS go to warren
	$(GO) run ./cmd/warren --listen $(LISTEN) --management-listen $(MGMT_LISTEN) --stream-listen $(STREAM_LISTEN) --data-dir ./data $(ARGS)

build: ## build bin/warren
	$(GO) build -o bin/warren ./cmd/warren

generate: ## regenerate amqp/spec_gen.go from the spec XML
	$(GO) generate ./amqp

check-generate: generate ## fail if the generated code is not what is committed
	git diff --exit-code -- amqp/spec_gen.go

fmt: ## gofmt every file
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet, and fail on unformatted files
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)

lint: vet ## the linters we have: go vet and gofmt

test: check-generate vet ## every test with the race detector (the in-process conformance suite included)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || [ -n "$$CHROMIUM" ] || \
		echo "make test: NOTE: no Chromium on PATH: the console's browser tests (amqp/management/console) will be SKIPPED; install it with: apt-get install -y chromium"
	$(GO) test -race -count=1 -timeout 9m $(PKGS)

fuzz: ## run each fuzz target for FUZZTIME
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime $(FUZZTIME) ./amqp
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMethod$$' -fuzztime $(FUZZTIME) ./amqp
	$(GO) test -run '^$$' -fuzz '^FuzzTable$$' -fuzztime $(FUZZTIME) ./amqp
	$(GO) test -run '^$$' -fuzz '^FuzzTopic$$' -fuzztime $(FUZZTIME) ./binding
	$(GO) test -run '^$$' -fuzz '^FuzzScanSenderRoutes$$' -fuzztime $(FUZZTIME) ./amqp
	$(GO) test -run '^$$' -fuzz '^FuzzImport$$' -fuzztime $(FUZZTIME) ./amqp/broker
	$(GO) test -run '^$$' -fuzz '^FuzzDefinitionBodies$$' -fuzztime $(FUZZTIME) ./amqp/management
	$(GO) test -run '^$$' -fuzz '^FuzzObjectBodies$$' -fuzztime $(FUZZTIME) ./amqp/management

bench: ## micro-benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./amqp/... ./binding/... ./exchange/... ./queue/...

# bench-compare builds Warren and tools/warren-perf into a temp dir, starts Warren on
# PERF_WARREN_ADDR with a temp data dir, runs `warren-perf compare` against it (A) and the
# local RabbitMQ on 127.0.0.1:5672 (B) with both broker PIDs (so broker CPU and RSS are
# measured), prints the Markdown table, and kills Warren at the end, also on failure.
# RabbitMQ must be installed (apt-get install rabbitmq-server) and started first with
# `rabbitmq-server -detached`. PERF_ARGS goes to warren-perf compare, e.g.
#   make bench-compare PERF_ARGS='--rounds 5 --scenarios fanout-10,topic-10k --time 5s'
PERF_WARREN_ADDR ?= 127.0.0.1:5673
PERF_WARREN_STREAM_ADDR ?= 127.0.0.1:5553
PERF_ARGS        ?= --rounds 3 --time 6s

# perf-vs-rabbitmq runs `warren-perf $(1)` ($(1) compare or sweep) against a freshly built
# Warren on PERF_WARREN_ADDR (A) and the local RabbitMQ (B), both broker PIDs given, with the
# arguments $(2); Warren is killed at the end, also on failure.
define perf-vs-rabbitmq
	@set -e; \
	rpid=$$(pgrep -o -f 'beam.smp.*rabbit' || true); \
	if [ -z "$$rpid" ]; then echo "bench-$(1): RabbitMQ is not running; start it with: rabbitmq-server -detached" >&2; exit 1; fi; \
	dir=$$(mktemp -d); \
	stop() { if [ -n "$$wpid" ]; then kill $$wpid 2>/dev/null || true; wait $$wpid 2>/dev/null || true; fi; rm -rf "$$dir"; }; \
	trap stop EXIT; trap 'exit 130' INT TERM; \
	$(GO) build -o $$dir/warren ./cmd/warren; \
	$(GO) build -o $$dir/warren-perf ./tools/warren-perf; \
	$$dir/warren --listen $(PERF_WARREN_ADDR) --management-listen 127.0.0.1:0 --prometheus-listen 127.0.0.1:0 \
		--stream-listen $(PERF_WARREN_STREAM_ADDR) --data-dir $$dir/data --log-level warn & wpid=$$!; \
	$$dir/warren-perf $(1) --wait 10s \
		--url amqp://guest:guest@$(PERF_WARREN_ADDR)/ --name warren --pid $$wpid \
		--url amqp://guest:guest@127.0.0.1:5672/ --name rabbitmq --pid $$rpid \
		$(2)
endef

bench-compare: ## Warren vs the local RabbitMQ with tools/warren-perf (see the comment above)
	$(call perf-vs-rabbitmq,compare,$(PERF_ARGS))

# bench-sweep is bench-compare for `warren-perf sweep` (issue 14's rate sweep): the same
# Warren and RabbitMQ, each rate step against one then the other. SWEEP_ARGS go to
# warren-perf sweep, e.g. SWEEP_ARGS='--scenario rate-sweep,rate-sweep-10 --multiple-ack-every 1,100'.
SWEEP_ARGS ?= --scenario rate-sweep,rate-sweep-10

bench-sweep: ## rate sweep (100 .. 100k msg/s, flat out) of Warren vs the local RabbitMQ: CPU, syscalls, wake-ups per message
	$(call perf-vs-rabbitmq,sweep,$(SWEEP_ARGS))

# bench-stream-replay is issue 17's long replay: 10,000,000 x 100 B messages into a stream, then
# one consumer from first, Warren then RabbitMQ each round (REPLAY_ROUNDS, 3 by default): drain
# msg/s, broker CPU and msg per CPU-second during the drain alone, RSS at its start, peak and end.
# Some 3 GB of disk per broker; about 10 minutes a round on 2 cores.
REPLAY_ROUNDS ?= 3

bench-stream-replay: ## issue 17's 10M-message stream replay, Warren vs the local RabbitMQ (long)
	$(call perf-vs-rabbitmq,compare,--rounds $(REPLAY_ROUNDS) --scenario stream-replay-10m $(PERF_ARGS_REPLAY))

# bench-stream is issue 19's stream protocol comparison: tools/warren-stream-perf (the official Go
# stream client) against a freshly built Warren on PERF_WARREN_STREAM_ADDR and the local
# RabbitMQ's stream plugin on 127.0.0.1:5552, both broker PIDs given: msg/s, broker CPU and msg
# per broker CPU-second, client CPU, broker RSS. STREAM_ARGS go to warren-stream-perf.
# bench-stream-group is its super stream scenario, Warren only (3.10 has no super streams):
# 6 partitions read by 1, 2 and 3 member processes of one group, each paced to GROUP_RATE msg/s
# (0: flat out), then a member killed and the rebalance timed.
STREAM_ARGS ?= --scenario publish,replay,e2e --messages 10000000
GROUP_RATE  ?= 100000

# perf-stream runs warren-stream-perf against a freshly built Warren (and, with $(1) = rabbitmq,
# the local RabbitMQ too) with the arguments $(2); Warren is killed at the end, also on failure.
define perf-stream
	@set -e; \
	rpid=$$(pgrep -o -f 'beam.smp.*rabbit' || true); \
	if [ "$(1)" = rabbitmq ] && [ -z "$$rpid" ]; then echo "bench-stream: RabbitMQ is not running; start it with: rabbitmq-server -detached" >&2; exit 1; fi; \
	dir=$$(mktemp -d); \
	stop() { if [ -n "$$wpid" ]; then kill $$wpid 2>/dev/null || true; wait $$wpid 2>/dev/null || true; fi; rm -rf "$$dir"; }; \
	trap stop EXIT; trap 'exit 130' INT TERM; \
	$(GO) build -o $$dir/warren ./cmd/warren; \
	$(GO) build -o $$dir/warren-stream-perf ./tools/warren-stream-perf; \
	$$dir/warren --listen 127.0.0.1:0 --management-listen off --prometheus-listen off \
		--stream-listen $(PERF_WARREN_STREAM_ADDR) --data-dir $$dir/data --log-level warn & wpid=$$!; \
	$$dir/warren-stream-perf --wait 10s \
		--url rabbitmq-stream://guest:guest@$(PERF_WARREN_STREAM_ADDR)/ --name warren --pid $$wpid \
		$$(if [ "$(1)" = rabbitmq ]; then echo --url rabbitmq-stream://guest:guest@127.0.0.1:5552/ --name rabbitmq --pid $$rpid; fi) \
		$(2)
endef

bench-stream: ## the stream protocol, Warren vs the local RabbitMQ: publish, replay, end to end (STREAM_ARGS)
	$(call perf-stream,rabbitmq,$(STREAM_ARGS))

bench-stream-group: ## a super stream's consumer group of 1, 2 and 3 member processes, then a rebalance (Warren only)
	$(call perf-stream,warren,--scenario super-procs --messages 3000000 --member-rate $(GROUP_RATE) --timeout 4m)

conformance: ## the conformance suites (AMQP, management API, stream protocol) against an in-process Warren
	$(GO) test -race -count=1 ./conformance/ ./conformance/api/ ./conformance/stream/

conformance-rabbitmq: ## the conformance suites against a RabbitMQ on 127.0.0.1:5672 (management on 15672)
	AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ $(GO) test -race -count=1 ./conformance/
	MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672 AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ $(GO) test -race -count=1 ./conformance/api/
	STREAM_URL=rabbitmq-stream://guest:guest@127.0.0.1:5552/ AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ $(GO) test -race -count=1 ./conformance/stream/

# chaos is issue 20's long fault run (amqp/cluster/chaos, tools/warren-chaos): three warren
# processes, a fault-injecting proxy on every peer link, CHAOS_FAULTS random faults (kill -9,
# pause, clean stop, partitions, one-way cuts, delays, drops) drawn from CHAOS_SEED (0: from the
# clock; the seed is printed, CHAOS_SEED=N replays it), then the checker's summary. `make test`
# runs a short schedule of each fault (TestFaults). CHAOS_QUEUE_TYPE=quorum targets a quorum
# queue on every node; CHAOS_ARGS go to warren-chaos run (e.g. --kinds kill,partition --keep).
CHAOS_FAULTS ?= 100
CHAOS_SEED   ?= 0
CHAOS_ARGS   ?=

chaos: ## long random fault schedule on a 3-node cluster (CHAOS_FAULTS=100, CHAOS_SEED): prints the checker's summary
	CHAOS_FAULTS=$(CHAOS_FAULTS) CHAOS_SEED=$(CHAOS_SEED) $(GO) run ./tools/warren-chaos run $(CHAOS_ARGS)

# restart-time is issue 20's restart goal: a 3-node cluster, a quorum queue filled with
# RESTART_MESSAGES confirmed 1 KiB messages, one node (RESTART_NODE, or all) stopped and started
# again; prints the seconds to listening, to a passive declare showing every message, and to the
# first delivery (goal: <= 5 s). RESTART_ARGS go to warren-chaos restart-time (e.g. --kill).
RESTART_MESSAGES ?= 1000000
RESTART_NODE     ?= n2
RESTART_ARGS     ?=

restart-time: ## time a node's restart with RESTART_MESSAGES (1M) messages in a quorum queue (goal <= 5 s)
	$(GO) build -o bin/warren ./cmd/warren
	$(GO) run ./tools/warren-chaos restart-time --binary bin/warren --messages $(RESTART_MESSAGES) --restart $(RESTART_NODE) $(RESTART_ARGS)
