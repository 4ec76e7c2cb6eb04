# The two commands of the README: `make run` trains LeNet-5 on the built-in MNIST subset and
# reports; `make test` runs vet and every test. Both install what they need on a fresh
# machine (scripts/setup.sh: oneDNN from Debian's packages, the Go modules).

GO ?= go

.PHONY: run test build

build:
	@tags=$$(./scripts/setup.sh) && $(GO) build -tags "$$tags" -o bin/cnn ./cmd/cnn

run: build
	./bin/cnn train lenet --out runs/lenet --force

test:
	@tags=$$(./scripts/setup.sh) && \
	echo "go vet/test -tags '$$tags'" && \
	$(GO) vet -tags "$$tags" ./... && \
	$(GO) test -tags "$$tags" ./...
