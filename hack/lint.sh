#!/bin/sh
# yamllint and ansible-lint over the role, the molecule scenarios, deploy/ and
# the collection (configured by .yamllint and .ansible-lint; no network).
set -eu

cd "$(dirname "$0")/.."

for tool in yamllint ansible-lint; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "hack/lint.sh: $tool not found; run \`make deps\` (Debian package $tool)" >&2
		exit 1
	}
done

# Lint with the collections this repository ships, plus the system ones.
ANSIBLE_COLLECTIONS_PATH="$PWD/collections:${ANSIBLE_COLLECTIONS_PATH:-/usr/share/ansible/collections}"
ANSIBLE_ROLES_PATH="$PWD/roles"
export ANSIBLE_COLLECTIONS_PATH ANSIBLE_ROLES_PATH

status=0
echo "yamllint: watches.yaml .yamllint .ansible-lint roles/ molecule/ deploy/ collections/ test/mcrouter/testdata/"
yamllint --strict watches.yaml .yamllint .ansible-lint roles/ molecule/ deploy/ collections/ test/mcrouter/testdata/ || status=1

echo "ansible-lint: roles/ molecule/"
# ansible-lint writes its cache under the project; keep it out of the tree.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
XDG_CACHE_HOME="$cache" ansible-lint --offline --nocolor -q roles/mcrouter molecule/ || status=1

echo "python: collections/ (compile)"
find collections -name '*.py' -exec /usr/bin/python3 -c '
import ast, sys
for path in sys.argv[1:]:
    with open(path) as f:
        ast.parse(f.read(), path)
' {} + || status=1

exit $status
