package procfs

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// ParseKB reads the "Key:   12345 kB" lines of a /proc file's content
// into the fields named, in bytes, and reports which it found. file names
// the file in errors. The benchmark reads smaps_rollup with it: it reads the
// file itself to tell a process that ended from other failures, and
// prometheus/procfs parses smaps_rollup only from a pid it reads.
func ParseKB(s, file string, fields map[string]*int64) (found map[string]bool, err error) {
	found = map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		dst := fields[key]
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return found, fmt.Errorf("%s %s: %q is not a size in kB", file, key, strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return found, fmt.Errorf("%s %s: %w", file, key, err)
		}
		*dst = kb * 1024
		found[key] = true
	}
	return found, nil
}
