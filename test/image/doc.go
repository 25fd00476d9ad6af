// Package image proves the operator image without a container engine.
//
// `make image-test` (root only; hack/image-test.sh) assembles the runtime
// stage of build/Dockerfile as a container engine would: a Debian bookworm
// minbase root made by debootstrap stands in for debian:bookworm-slim, and
// the stage's own RUN, ENV, COPY, USER and WORKDIR lines are read from the
// Dockerfile and carried out in order (RUN in a chroot, COPY from the
// repository or from the build stage, which runs on the host). The operator
// then runs from that root as deploy/manager/operator.yaml runs it in a pod:
// PID 1 tini in its own PID, mount, IPC and UTS namespaces, the image's user
// (UID 1001), a read-only root with an emptyDir on /tmp, /proc, /dev with
// /dev/pts and /dev/shm as a container runtime mounts them, and the
// ServiceAccount token of deploy/rbac — against the local control plane of
// internal/devcluster, on which it must reconcile the sample Mcrouter of
// deploy/samples. Nothing of the Dockerfile is restated here, so an
// instruction that breaks the image breaks the test.
//
// The parser and the checks that need neither root nor a network run in
// `make test` (dockerfile_test.go).
package image
