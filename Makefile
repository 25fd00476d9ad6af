# The two commands: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
K8S_BIN   := $(BIN)/k8s
K8S_VERSION := v1.36.3
K8S_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=36 \
	-X k8s.io/component-base/version.gitTreeState=clean
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/mcrouter-operator/mcrouter-operator/internal/version.Version=$(VERSION)
IMG       ?= ghcr.io/mcrouter-operator/mcrouter-operator:latest
# Each test package's hang guard. Tests never wait on a fixed budget (see
# docs/testing.md): on a busy 2-core machine test/e2e alone took 20 minutes.
GO_TEST_FLAGS ?= -timeout 45m
# The packages that start Ansible run a second time with the warm executor
# (docs/testing.md), longest first: go test starts them in this order.
# test/sharding starts its replicas with the warm executor whatever
# TEST_ANSIBLE_EXECUTOR says: it runs only in the warm pass.
WARM_TEST_PKGS := ./test/e2e/ ./test/sharding/ ./runner/ ./test/operator/
RUNNER_TEST_PKGS = $(shell $(GO) list ./... | grep -v '/test/sharding$$')
# Run from the Go module proxy at a fixed version, outside go.mod.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help
help: ## Show the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install Debian packages and build the control-plane binaries (idempotent, quiet).
	@hack/deps.sh
	@$(MAKE) --no-print-directory -s k8s

.PHONY: k8s
k8s: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/kube-controller-manager $(K8S_BIN)/etcd

$(K8S_BIN)/kube-apiserver $(K8S_BIN)/kube-controller-manager &: tools/k8s/go.mod tools/k8s/go.sum
	@echo "building kube-apiserver and kube-controller-manager $(K8S_VERSION) (a few minutes, once)"
	@mkdir -p $(K8S_BIN)
	@cd tools/k8s && $(GO) build -trimpath -ldflags '$(K8S_LDFLAGS)' -o $(K8S_BIN)/ \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		|| { echo "make deps: building the Kubernetes control plane failed (is the Go module proxy reachable?)" >&2; exit 1; }
	@touch $(K8S_BIN)/kube-apiserver $(K8S_BIN)/kube-controller-manager

$(K8S_BIN)/etcd:
	@mkdir -p $(K8S_BIN)
	@command -v etcd >/dev/null || { echo "make deps: etcd not found (Debian package etcd-server)" >&2; exit 1; }
	@ln -sf "$$(command -v etcd)" $@

.PHONY: build
build: ## Build bin/ansible-operator and bin/devcluster.
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ansible-operator ./cmd/ansible-operator
	$(GO) build -o $(BIN)/devcluster ./cmd/devcluster

.PHONY: run
run: deps build ## Run the operator (on a local control plane when no cluster is configured).
	@hack/run.sh

.PHONY: dev-cluster
dev-cluster: deps build ## Start only the local control plane; prints the KUBECONFIG to use.
	$(BIN)/devcluster --crds deploy/crds

.PHONY: vet
vet: ## go vet, staticcheck and gofmt.
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: lint
lint: ## yamllint and ansible-lint for roles, molecule and deploy.
	@hack/lint.sh

.PHONY: test
test: deps vet ## The whole test suite: vet, unit, integration and end-to-end tests (lint runs in test/mcrouter), then the Ansible suites with the warm executor.
	PYTHONPATH=$(CURDIR)/collections /usr/bin/python3 -m unittest discover -s collections/ansible_collections/operator_sdk/util/tests/unit
	TEST_ANSIBLE_EXECUTOR=runner $(GO) test $(GO_TEST_FLAGS) $(RUNNER_TEST_PKGS)
	TEST_ANSIBLE_EXECUTOR=warm $(GO) test $(GO_TEST_FLAGS) $(WARM_TEST_PKGS)

.PHONY: image-test
image-test: ## Needs root: build/Dockerfile's runtime stage, assembled without Docker (debootstrap, chroot), reconciles the sample Mcrouter.
	@[ "$$(id -u)" -eq 0 ] || { echo "make image-test: needs root (debootstrap, chroot, mounts and namespaces): run it as root, e.g. sudo make image-test" >&2; exit 1; }
	@$(MAKE) --no-print-directory -s deps
	@hack/image-test.sh

.PHONY: bench
bench: deps build ## Performance benchmark (see bench/).
	$(GO) run ./bench $(BENCH_FLAGS)

.PHONY: bundle
bundle: ## Regenerate deploy/mcrouter-operator.yaml from deploy/.
	@IMG=$(IMG) hack/bundle.sh

.PHONY: docker-build
docker-build: ## Build the operator image (needs a Docker engine).
	docker build -f build/Dockerfile --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image.
	docker push $(IMG)

.PHONY: clean
clean: ## Remove build outputs (keeps bin/k8s).
	rm -f $(BIN)/ansible-operator $(BIN)/devcluster
