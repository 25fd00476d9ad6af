package watches

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Entry is one watches.yaml entry as written: decoded strictly, validated without looking at the disk or the
// environment, with the defaults that need neither. Resolve turns entries into Watches.
type Entry struct {
	// Watch holds the entry's values. Role, Playbook and the finalizer's paths are as written, not yet looked up;
	// ReconcilePeriod means something only when ReconcilePeriodSet; MaxConcurrentReconciles and AnsibleVerbosity
	// are zero: they come from Options and the environment.
	Watch
	ReconcilePeriodSet bool
	File               string // the source given to Parse; its directory anchors relative playbook paths
	Index              int    // 0-based position in the list
	Line               int    // line where the entry starts
}

// entryKeys are the keys an entry may have, in the order the documentation lists them.
func entryKeys() []string {
	return []string{
		"group", "version", "kind", "role", "playbook", "vars", "reconcilePeriod", "manageStatus",
		"watchDependentResources", "watchClusterScopedResources", "watchAnnotationsChanges", "snakeCaseParameters",
		"markUnsafe", "maxRunnerArtifacts", "skipUnchangedResync", "pruneDependents", "ansibleExecutor", "finalizer", "blacklist", "selector",
	}
}

// Parse decodes a watches.yaml document read from r. source names the file in messages (and in Entry.File).
// Parse reads neither the environment nor the disk: ${VAR} references stay as written, and roles and playbooks
// are not looked up. It rejects what is wrong whatever the environment: YAML that is not a non-empty list of
// mappings, unknown keys, values of the wrong type, missing version or kind, duplicate group/version/kind, both
// or neither of role and playbook, an incomplete finalizer, bad durations, counts or selectors.
func Parse(r io.Reader, source string) ([]Entry, error) {
	data, err := readLimited(r, source)
	if err != nil {
		return nil, err
	}
	root, err := readDocument(data, source)
	if err != nil {
		return nil, err
	}
	if isNull(root) {
		return nil, &Error{File: source, Index: -1, Err: errors.New("no watches: want a list of entries with group, version, kind and a role or playbook")}
	}
	items, err := sequenceItems(root, "")
	if err != nil {
		return nil, &Error{File: source, Line: root.Line, Index: -1, Err: fmt.Errorf("want a list of watches, got %s", kindName(root))}
	}
	if len(items) == 0 {
		return nil, &Error{File: source, Line: root.Line, Index: -1, Err: errors.New("no watches: the list is empty")}
	}
	entries := make([]Entry, 0, len(items))
	seen := map[schema.GroupVersionKind]Entry{}
	for i, item := range items {
		e, err := parseEntry(item, source, i)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[e.GroupVersionKind]; dup {
			return nil, &Error{File: source, Line: e.Line, Index: i, GVK: e.GroupVersionKind,
				Err: fmt.Errorf("duplicate group/version/kind: entry %d (line %d) already watches it", first.Index, first.Line)}
		}
		seen[e.GroupVersionKind] = e
		entries = append(entries, e)
	}
	return entries, nil
}

// MaxFileSize bounds a watches file and what Parse reads. Real files are a few kilobytes; the bound keeps a
// mistaken or hostile path (a log, /dev/zero) from being read into memory, along with its node tree, which
// is several times the size of the text.
const MaxFileSize = 1 << 20

// readLimited reads r whole, refusing more than MaxFileSize bytes without reading further.
func readLimited(r io.Reader, source string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: source, Index: -1, Err: fmt.Errorf("read: %w", err)}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: source, Index: -1, Err: fmt.Errorf("larger than %d bytes (1 MiB): a watches file is a few kilobytes", MaxFileSize)}
	}
	return data, nil
}

// readDocument decodes exactly one YAML document and returns its root node (nil for an empty file), with its
// aliases checked (see checkAliases).
func readDocument(data []byte, source string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, &Error{File: source, Index: -1, Err: fmt.Errorf("invalid YAML: %w", err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0
		}
		return nil, &Error{File: source, Line: line, Index: -1, Err: errors.New("more than one YAML document: put all watches in one list")}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	if aerr := checkAliases(doc.Content[0]); aerr != nil {
		return nil, &Error{File: source, Line: aerr.node.Line, Column: aerr.node.Column, Index: -1, Err: aerr.err}
	}
	return doc.Content[0], nil
}

// parseEntry decodes and checks one entry. Errors carry the entry's index and whatever of its GVK could be read.
func parseEntry(n *yaml.Node, file string, index int) (Entry, error) {
	e := Entry{File: file, Index: index, Line: n.Line, Watch: Watch{
		ManageStatus:            true,
		WatchDependentResources: true,
		SnakeCaseParameters:     true,
		MarkUnsafe:              true,
		MaxRunnerArtifacts:      DefaultMaxRunnerArtifacts,
		Selector:                labels.Everything(),
	}}
	gvk := peekGVK(n) // for messages, until decodeGVK has read the real one
	wrap := func(err error) error {
		var fe *fieldErr
		if errors.As(err, &fe) {
			return &Error{File: file, Line: fe.line, Index: index, GVK: gvk, Key: fe.key, Err: fe.err}
		}
		return &Error{File: file, Line: n.Line, Index: index, GVK: gvk, Err: err}
	}
	pairs, err := mappingPairs(n, "")
	if err != nil {
		return e, wrap(err)
	}
	// The group, version and kind come first so that every later message can name them.
	if err := decodeGVK(&e, pairs); err != nil {
		return e, wrap(err)
	}
	gvk = e.GroupVersionKind
	for _, p := range pairs {
		if isNull(p.value) {
			continue // `key:` with no value means the default, as upstream's decoding into pointers did
		}
		if err := setEntryKey(&e, p); err != nil {
			return e, wrap(err)
		}
	}
	e.Source = fmt.Sprintf("%s#%d (%s)", file, index, e.GroupVersionKind)
	if err := checkEntry(&e, n); err != nil {
		return e, wrap(err)
	}
	return e, nil
}

// peekGVK reads whatever group, version and kind an entry's text holds, without checking types or keys, so that
// an error found before they are decoded can still name the entry's kind.
func peekGVK(n *yaml.Node) schema.GroupVersionKind {
	var gvk schema.GroupVersionKind
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return gvk
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
			continue
		}
		switch k.Value {
		case "group":
			gvk.Group = v.Value
		case "version":
			gvk.Version = v.Value
		case "kind":
			gvk.Kind = v.Value
		}
	}
	return gvk
}

func decodeGVK(e *Entry, pairs []pair) error {
	for _, p := range pairs {
		if isNull(p.value) {
			continue
		}
		var err error
		switch p.key {
		case "group":
			e.GroupVersionKind.Group, err = decodeString(p.value, p.key)
		case "version":
			e.GroupVersionKind.Version, err = decodeString(p.value, p.key)
		case "kind":
			e.GroupVersionKind.Kind, err = decodeString(p.value, p.key)
		}
		if err != nil {
			return err
		}
	}
	return checkGVK(e.GroupVersionKind, pairs)
}

// checkGVK requires version and kind (an empty group is the core group) and the syntax the API server would.
func checkGVK(gvk schema.GroupVersionKind, pairs []pair) error {
	line := func(key string) *yaml.Node {
		for _, p := range pairs {
			if p.key == key {
				return p.value
			}
		}
		return &yaml.Node{}
	}
	if gvk.Version == "" {
		return errAt(line("version"), "version", "required")
	}
	if gvk.Kind == "" {
		return errAt(line("kind"), "kind", "required")
	}
	if msgs := validation.IsDNS1123Subdomain(gvk.Group); gvk.Group != "" && len(msgs) > 0 {
		return errAt(line("group"), "group", "%q is not a valid API group: %s", gvk.Group, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1035Label(gvk.Version); len(msgs) > 0 {
		return errAt(line("version"), "version", "%q is not a valid API version: %s", gvk.Version, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1035Label(strings.ToLower(gvk.Kind)); len(msgs) > 0 {
		return errAt(line("kind"), "kind", "%q is not a valid kind: lower-cased, %s", gvk.Kind, strings.Join(msgs, "; "))
	}
	return nil
}

// setEntryKey decodes one key of an entry into e.
func setEntryKey(e *Entry, p pair) error {
	var err error
	v, key := p.value, p.key
	switch key {
	case "group", "version", "kind":
		// decoded by decodeGVK
	case "role":
		e.Role, err = decodeString(v, key)
	case "playbook":
		e.Playbook, err = decodeString(v, key)
	case "vars":
		e.Vars, err = decodeVars(v, key)
	case "reconcilePeriod":
		e.ReconcilePeriod, err = decodeDuration(v, key)
		e.ReconcilePeriodSet = true
	case "manageStatus":
		e.ManageStatus, err = decodeBool(v, key)
	case "watchDependentResources":
		e.WatchDependentResources, err = decodeBool(v, key)
	case "watchClusterScopedResources":
		e.WatchClusterScopedResources, err = decodeBool(v, key)
	case "watchAnnotationsChanges":
		e.WatchAnnotationsChanges, err = decodeBool(v, key)
	case "snakeCaseParameters":
		e.SnakeCaseParameters, err = decodeBool(v, key)
	case "markUnsafe":
		e.MarkUnsafe, err = decodeBool(v, key)
	case "skipUnchangedResync":
		e.SkipUnchangedResync, err = decodeBool(v, key)
	case "pruneDependents":
		e.PruneDependents, err = decodeBool(v, key)
	case "maxRunnerArtifacts":
		e.MaxRunnerArtifacts, err = decodeInt(v, key)
		if err == nil && e.MaxRunnerArtifacts < 0 {
			err = errAt(v, key, "%d is negative", e.MaxRunnerArtifacts)
		}
	case "ansibleExecutor":
		e.AnsibleExecutor, err = decodeString(v, key)
		if err == nil && e.AnsibleExecutor != ExecutorRunner && e.AnsibleExecutor != ExecutorWarm {
			err = errAt(v, key, "%q: want %s or %s", e.AnsibleExecutor, ExecutorRunner, ExecutorWarm)
		}
	case "finalizer":
		e.Finalizer, err = decodeFinalizer(v)
	case "blacklist":
		e.Blacklist, err = decodeBlacklist(v)
	case "selector":
		e.LabelSelector, e.Selector, err = decodeSelector(v)
	default:
		return &fieldErr{line: p.keyN.Line, err: unknownKeyError(key, entryKeys())}
	}
	return err
}

// decodeDuration reads a Go duration string such as "30s" or "1h30m". A bare number is refused: upstream refuses
// it too, and guessing its unit would be wrong half the time.
func decodeDuration(n *yaml.Node, key string) (time.Duration, error) {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		return 0, errAt(n, key, "%s has no unit: write a duration such as \"%ss\" or \"1h30m\"", n.Value, n.Value)
	}
	s, err := decodeString(n, key)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errAt(n, key, "invalid duration %q: want a Go duration such as \"30s\" or \"1h30m\"", s)
	}
	if d < 0 {
		return 0, errAt(n, key, "duration %q is negative", s)
	}
	return d, nil
}

// checkEntry checks what involves more than one key.
func checkEntry(e *Entry, n *yaml.Node) error {
	switch {
	case e.Role != "" && e.Playbook != "":
		return errAt(n, "playbook", "role and playbook are both set: keep one")
	case e.Role == "" && e.Playbook == "":
		return errAt(n, "", "missing role or playbook: set one of them")
	}
	return nil
}
