# The two commands of the README: `make run` trains LeNet-5 on the built-in MNIST subset and
# reports; `make test` runs vet and every test. Both fetch what they need on a fresh machine.

GO ?= go

.PHONY: run test build setup

setup:
	$(GO) mod download

build: setup
	$(GO) build -o bin/cnn ./cmd/cnn

run: build
	./bin/cnn train lenet --out runs/lenet

test: setup
	$(GO) vet ./...
	$(GO) test ./...
