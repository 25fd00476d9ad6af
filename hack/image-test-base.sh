#!/bin/sh
# Makes DIR a stand-in for debian:bookworm-slim, the base of build/Dockerfile's
# runtime stage, for `make image-test` (test/image): a debootstrap minbase root
# with what the official image adds to one — no service starts during package
# installs, dpkg without sync, apt without caches or translations, the "slim"
# variant's dpkg filters (no docs but copyrights, no man pages, no locales) —
# and the image's apt sources. Needs root and a Debian mirror.
# Usage: hack/image-test-base.sh DIR [MIRROR [SECURITY_MIRROR]]
set -eu

dir=$1
mirror=${2:-http://deb.debian.org/debian}
security=${3:-$mirror-security}
suite=bookworm

debootstrap --variant=minbase --components=main "$suite" "$dir" "$mirror"

# No daemon may start while a package installs.
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
chmod 0755 "$dir/usr/sbin/policy-rc.d"

echo force-unsafe-io >"$dir/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$dir/etc/apt/apt.conf.d/docker-autoremove-suggests"
echo 'Acquire::GzipIndexes "true";' >"$dir/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Acquire::Languages "none";' >"$dir/etc/apt/apt.conf.d/docker-no-languages"

# The slim variant: packages installed later skip these paths, and the files
# debootstrap already unpacked there go.
cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-include /usr/share/doc/*/copyright
path-include /usr/share/locale/all_languages
path-include /usr/share/locale/currency/*
path-include /usr/share/locale/l10n/*
path-include /usr/share/locale/languages
path-include /usr/share/locale/locale.alias
EOF
for d in doc groff info linda lintian/overrides locale man; do
	[ -d "$dir/usr/share/$d" ] || continue
	find "$dir/usr/share/$d" -mindepth 1 ! -type d \
		! -path "$dir/usr/share/doc/*/copyright" \
		! -path "$dir/usr/share/locale/all_languages" ! -path "$dir/usr/share/locale/languages" \
		! -path "$dir/usr/share/locale/locale.alias" ! -path "$dir/usr/share/locale/currency/*" \
		! -path "$dir/usr/share/locale/l10n/*" -delete
	find "$dir/usr/share/$d" -mindepth 1 -depth -type d -empty -delete
done

# The image's sources: the release, its updates and its security updates.
rm -f "$dir/etc/apt/sources.list"
cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# As the image ships: no package lists, no downloaded packages.
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin
