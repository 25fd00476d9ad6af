#!/bin/sh
# `make run`: the operator in the foreground with the repository's
# watches.yaml and roles. With no cluster configured (no KUBECONFIG and no
# ~/.kube/config) it first brings up the local control plane and installs the
# CRDs from deploy/crds; Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/.."

# Role runs skip fact gathering unless the caller says otherwise (as in the image).
export ANSIBLE_GATHERING="${ANSIBLE_GATHERING:-explicit}"

# Extra operator flags: make run ARGS="--ansible-verbosity 3"
# shellcheck disable=SC2086
set -- bin/ansible-operator run --watches-file ./watches.yaml \
	--metrics-bind-address 127.0.0.1:8080 --health-probe-bind-address 127.0.0.1:6789 ${ARGS:-}

if [ -n "${KUBECONFIG:-}" ] || [ -f "$HOME/.kube/config" ]; then
	echo "make run: using the configured cluster (${KUBECONFIG:-$HOME/.kube/config});" \
		"install the CRD first: kubectl apply -f deploy/crds/" >&2
	exec "$@"
fi

echo "make run: no cluster configured; starting the local control plane" >&2
exec bin/devcluster --crds deploy/crds --kubeconfig-out bin/dev/kubeconfig -- "$@"
