# Warren: `make help` lists the targets.
GO       ?= go
PKGS     ?= ./...
FUZZTIME ?= 60s

.PHONY: help run build generate check-generate fmt vet lint test fuzz bench conformance conformance-rabbitmq

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

run: ## run the broker on 127.0.0.1:5672, data under ./data, guest/guest on loopback
	$(GO) run ./cmd/warren --listen 127.0.0.1:5672 --data-dir ./data

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
	$(GO) test -race -count=1 -timeout 9m $(PKGS)

fuzz: ## run each fuzz target for FUZZTIME
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime $(FUZZTIME) ./amqp
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMethod$$' -fuzztime $(FUZZTIME) ./amqp
	$(GO) test -run '^$$' -fuzz '^FuzzTable$$' -fuzztime $(FUZZTIME) ./amqp
	$(GO) test -run '^$$' -fuzz '^FuzzTopic$$' -fuzztime $(FUZZTIME) ./binding

bench: ## micro-benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./amqp/... ./binding/... ./exchange/... ./queue/...

conformance: ## the conformance suite against an in-process Warren
	$(GO) test -race -count=1 ./conformance/

conformance-rabbitmq: ## the conformance suite against a RabbitMQ on 127.0.0.1:5672
	AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ $(GO) test -race -count=1 ./conformance/
