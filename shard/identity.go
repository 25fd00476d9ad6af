package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels the shards are kept in.
const (
	// Label on every resource and recorded dependent names the replica that
	// holds it; each replica's informers select their own value.
	Label = "ansible.sdk.operatorframework.io/shard"
	// GroupLabel on a replica's Lease names the operator the replica belongs to.
	GroupLabel = "ansible.sdk.operatorframework.io/shard-group"
)

// Identity is this replica's name: POD_NAME (set from the downward API),
// else the host name, made a valid label value and Lease name suffix.
func Identity() (string, error) {
	name := os.Getenv("POD_NAME")
	if name == "" {
		var err error
		if name, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("replica identity: no POD_NAME and no host name: %w", err)
		}
	}
	id := Sanitize(name)
	if id == "" {
		return "", fmt.Errorf("replica identity: %q has no letter or digit; set POD_NAME", name)
	}
	return id, nil
}

// Sanitize maps name to a valid label value that is also a DNS label:
// lower case letters, digits and dashes, at most 63 characters (a longer name
// keeps a prefix and gains a digest of the whole).
func Sanitize(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-")
	if len(id) > validation.LabelValueMaxLength {
		sum := sha256.Sum256([]byte(name))
		id = strings.TrimRight(id[:validation.LabelValueMaxLength-11], "-") + "-" + hex.EncodeToString(sum[:5])
	}
	return id
}
