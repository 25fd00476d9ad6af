#!/bin/sh
# `make image-test`: assembles the runtime stage of build/Dockerfile without a
# container engine and runs it as deploy/manager/operator.yaml runs it against
# a local control plane, which must reconcile the sample Mcrouter (test/image
# says how). Needs root (debootstrap, chroot, mounts, namespaces), debootstrap
# and a Debian mirror; the base root and the root after the Dockerfile's RUN
# lines are cached in bin/image-test (IMAGE_TEST_CACHE), keyed by what made
# them. IMAGE_TEST_MIRROR picks the mirror (default deb.debian.org).
set -eu
cd "$(dirname "$0")/.."

fail() {
	echo "make image-test: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mounts and namespaces): run it as root, e.g. sudo make image-test"
if ! command -v debootstrap >/dev/null 2>&1; then
	echo "make image-test: installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null ||
		fail "apt-get install debootstrap failed (is a Debian mirror reachable?)"
fi
for cmd in debootstrap chroot mount mknod go kubectl; do
	command -v "$cmd" >/dev/null 2>&1 || fail "$cmd not found (make deps installs go and kubectl's companions)"
done

exec go test -tags imagetest -count=1 -v -timeout 60m -run 'TestImage' ./test/image/
