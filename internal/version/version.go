// Package version holds the build's version, set with -ldflags at build time.
package version

import "runtime"

// Version is set by the Makefile from `git describe`.
var Version = "dev"

// GoVersion is the Go toolchain the binary was built with.
func GoVersion() string { return runtime.Version() }
