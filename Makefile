# Everyday targets. `make help` lists them.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: help run build test bench bench-http bench-memory bench-conns bench-slow bench-resp bench-redisclient bench-shared bench-overload bench-coldstart bench-growth soak verify fuzz lint ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## run the standalone server on :7171
	go run .

build: ## build a static, stripped ./warmkv
	CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags '$(LDFLAGS)' -o warmkv .

test: ## run every test with the race detector (what CI runs)
	go test -race ./...

bench: ## Go benchmarks of the cache and the handler
	go test -run '^$$' -bench . -benchmem ./cache/ ./handler/

bench-http: ## HTTP throughput and p99 against a minimal fasthttp baseline (needs wrk)
	bash bench/http.sh

bench-memory: ## 5M unique PUTs under a 2 GB limit: RSS must stay under 1.8 GB (STORM_CONNS=10000 adds a connection storm)
	bash bench/memflood.sh

bench-conns: ## 10k idle keep-alive connections beside 64 active clients: p99 ratio, memory per connection (needs wrk)
	bash bench/conns.sh

bench-slow: ## normal clients under 1,000 slowloris + 1,000 slow-body + 200 RESP trickling connections (needs wrk, slowhttptest)
	bash bench/slow.sh

bench-resp: ## Redis-protocol port vs redis-server, with and without its epoll event loops (needs redis-server, redis-tools)
	bash bench/resp.sh

bench-redisclient: ## rueidis vs go-redis against a local redis-server (needs redis-server)
	cd bench && flock /tmp/warmkv-bench.lock go test -run '^$$' -bench . -benchtime 2s -count 3 ./redisclient/

bench-shared: ## shared Redis tier: local and shared GETs vs no Redis, zipf hit ratio, cross-instance staleness (needs wrk, redis-server)
	bash bench/shared.sh

bench-overload: ## open-loop (vegeta) GETs at rising rates, MAX_IN_FLIGHT on vs off: tables, PNGs, verdict
	bash bench/overload.sh

bench-coldstart: ## cold starts: Lambda INIT vs hello world, Vercel first request, standalone ready time by budget
	bash bench/coldstart.sh

bench-growth: ## open-loop GET p99.9 while the cache fills from empty vs once full (vegeta)
	bash bench/growth.sh

soak: ## 10-minute soak checked against a model; RSS stable (SOAK_DURATION=60s for a smoke run)
	bash bench/soak.sh

verify: ## long verification (docs/verification.md): 1M ops checked, 100 crash loops, faults on Redis and a Cluster; log in test-artifacts/verify (needs redis-server)
	@mkdir -p test-artifacts/verify
	@WARMKV_VERIFY=long WARMKV_VERIFY_OUT=$(CURDIR)/test-artifacts/verify flock /tmp/warmkv-bench.lock \
		go test -count=1 -timeout 2h -run '^TestVerify' -v ./e2e/ > test-artifacts/verify/verify.log 2>&1; \
		status=$$?; grep -E 'verify: |^(--- FAIL|FAIL|ok)' test-artifacts/verify/verify.log; exit $$status

fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	@for pkg in $$(go list ./...); do for t in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
		echo "$$pkg $$t"; go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; done; done

lint: ## gofmt, go vet, golangci-lint and staticcheck over both modules (what CI runs)
	bash .ci/lint

ci: ## what CI runs
	bash .ci/run

clean: ## remove build output
	rm -f warmkv bootstrap

# Deployment targets. `sam build` (template.yaml, BuildMethod: makefile) runs
# build-WarmkvFunction, so `make lambda` and SAM produce the same bootstrap.
.PHONY: lambda build-WarmkvFunction docker vercel-build-check

lambda: ## build ./bootstrap for AWS Lambda (provided.al2023, arm64), as sam build does
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags '$(LDFLAGS)' -o bootstrap .

build-WarmkvFunction: lambda
	cp bootstrap $(ARTIFACTS_DIR)/bootstrap

docker: ## build the container image warmkv:latest (needs a Docker engine)
	docker build --build-arg VERSION=$(VERSION) -t warmkv .

vercel-build-check: ## build api/ the way Vercel does, then PUT and GET through it
	go test -count=1 -run '^TestVercel' ./e2e/
