#!/bin/sh
# The container runtime of `make image-test` (test/image): runs a command in
# ROOT as a container engine runs a RUN step or a pod's container. It is
# started as PID 1 of new mount, PID, IPC and UTS namespaces (the test asks
# the kernel for them) and, like runc, mounts /proc, a tmpfs /dev with the
# standard device nodes, /dev/pts (a new devpts instance, ptmx 0666), a
# tmpfs /dev/shm, /dev/mqueue and a read-only /sys, binds the host's
# resolv.conf and hosts read-only, then execs the command in a chroot as
# USER in WORKDIR with exactly the environment given (the command's PID stays
# 1). The network is the host's: the control plane listens on loopback.
#
# Usage: image-test-container.sh ROOT USER WORKDIR [KEY=VALUE...] COMMAND [ARG...]
# USER is uid[:gid] (gid: the user's primary group in ROOT's /etc/passwd).
# Environment:
#   IMAGE_READONLY=1      the root file system is read-only (readOnlyRootFilesystem)
#   IMAGE_TMPFS="P..."    tmpfs mounts at these paths of ROOT (emptyDir volumes)
#   IMAGE_BINDS="S:D..."  read-only binds of host path S at path D of ROOT (secrets)
#   IMAGE_HOSTNAME=name   the host name in the container's UTS namespace
#   IMAGE_NO_NEW_PRIVS=1  no_new_privs (allowPrivilegeEscalation: false)
#   IMAGE_DROP_ALL_CAPS=1 an empty capability bounding set (capabilities: drop: [ALL])
set -eu

root=$1 user=$2 workdir=$3
shift 3

if [ "$$" != 1 ]; then
	echo "image-test-container.sh: must run as PID 1 of a new PID namespace" >&2
	exit 1
fi
mount --make-rprivate /

# inroot PATH: PATH resolved inside ROOT (symlinks such as /var/run -> /run
# must not lead out of it), created as a directory (or, with -f, a file).
inroot() {
	if [ "$1" = -f ]; then
		p=$(chroot "$root" /usr/bin/realpath -m "$2")
		[ -e "$root$p" ] || { chroot "$root" /usr/bin/mkdir -p "$(dirname "$p")" && : >"$root$p"; }
	else
		p=$(chroot "$root" /usr/bin/realpath -m "$1")
		chroot "$root" /usr/bin/mkdir -p "$p"
	fi
	echo "$root$p"
}

# Mount points first: the root may become read-only below.
for p in /proc /dev /sys ${IMAGE_TMPFS:-}; do inroot "$p" >/dev/null; done
for b in ${IMAGE_BINDS:-}; do inroot "${b#*:}" >/dev/null; done
resolv=$(inroot -f /etc/resolv.conf)
hosts=$(inroot -f /etc/hosts)

mount --bind "$root" "$root"

mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs "$root/dev"
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	name=${d%%:*} majmin=${d#*:}
	mknod -m 666 "$root/dev/$name" c "${majmin%:*}" "${majmin#*:}"
done
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
ln -s pts/ptmx "$root/dev/ptmx"
mkdir "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm "$root/dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue "$root/dev/mqueue"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

mount --bind /etc/resolv.conf "$resolv"
mount -o remount,bind,ro "$resolv"
mount --bind /etc/hosts "$hosts"
mount -o remount,bind,ro "$hosts"
for p in ${IMAGE_TMPFS:-}; do
	mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$(inroot "$p")"
done
for b in ${IMAGE_BINDS:-}; do
	dst=$(inroot "${b#*:}")
	mount --bind "${b%%:*}" "$dst"
	mount -o remount,bind,ro "$dst"
done
if [ -n "${IMAGE_HOSTNAME:-}" ]; then
	hostname "$IMAGE_HOSTNAME"
fi
if [ "${IMAGE_READONLY:-}" = 1 ]; then
	mount -o remount,bind,ro "$root"
fi

if [ -z "${IMAGE_NO_NEW_PRIVS:-}${IMAGE_DROP_ALL_CAPS:-}" ]; then
	exec chroot --userspec="$user" "$root" /usr/bin/env -i -C "$workdir" "$@"
fi
# A pod's securityContext: the image's setpriv (util-linux, in every Debian
# root) changes the user after dropping what the container may not keep.
uid=${user%%:*}
case $user in
*:*) gid=${user#*:} ;;
*) gid=$(chroot "$root" /usr/bin/id -g "$uid") ;;
esac
set -- /usr/bin/env -i -C "$workdir" "$@"
[ -z "${IMAGE_DROP_ALL_CAPS:-}" ] || set -- --bounding-set=-all --inh-caps=-all "$@"
[ -z "${IMAGE_NO_NEW_PRIVS:-}" ] || set -- --no-new-privs "$@"
exec chroot "$root" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --init-groups "$@"
