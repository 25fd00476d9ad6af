#!/bin/sh
# Installs what the project needs and is idempotent: quiet when everything is
# present. Debian packages come from apt-get (as root); the control-plane
# binaries are built by `make k8s` (tools/k8s).
set -eu

PACKAGES="ansible python3-ansible-runner python3-kubernetes python3-jmespath etcd-server yamllint ansible-lint"

fail() {
	echo "make deps: $*" >&2
	exit 1
}

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "make deps: installing Debian packages:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			SUDO=sudo
		else
			fail "need root to install:$missing — run as root: apt-get install -y$missing"
		fi
	else
		SUDO=
	fi
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	if ! $SUDO apt-get update -q >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		fail "apt-get update failed (is a Debian package mirror reachable?)"
	fi
	# shellcheck disable=SC2086
	if ! $SUDO apt-get install -y -q --no-install-recommends $missing >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		fail "apt-get install of$missing failed (see the lines above)"
	fi
	rm -f "$log"
fi

for cmd in ansible-runner ansible-playbook etcd kubectl go; do
	command -v "$cmd" >/dev/null 2>&1 || fail "$cmd not found on PATH after installing packages"
done
/usr/bin/python3 -c 'import kubernetes, jmespath, ansible_runner' 2>/dev/null || fail "/usr/bin/python3 cannot import kubernetes, jmespath or ansible_runner (Debian packages python3-kubernetes, python3-jmespath, python3-ansible-runner)"
ansible-galaxy collection list kubernetes.core 2>/dev/null | grep -q 'kubernetes.core' ||
	fail "the kubernetes.core collection is missing (Debian package ansible)"
