// Package collections carries the repository's Ansible collections
// (operator_sdk.util) inside the ansible-operator binary, so that every run
// finds them however the operator was started: from a checkout, from the
// image, or from a copied binary. The runner extracts them under its root
// dir and puts them last on the runs' collections search path (see
// runner.Options.Collections), where any other copy of the same collection
// wins.
//
// Only what Ansible reads at run time is embedded: each collection's
// galaxy.yml, meta/ and plugins/; its README.md and tests/ stay in the
// repository. Files and directories whose names begin with "." or "_"
// (__pycache__, editor files) are not embedded either.
package collections

import (
	"embed"
	"io/fs"
)

//go:embed ansible_collections/*/*/galaxy.yml ansible_collections/*/*/meta ansible_collections/*/*/plugins
var files embed.FS

// FS is the tree ansible_collections/<namespace>/<name>/… of the collections
// in this directory, as of the build.
func FS() fs.FS { return files }
