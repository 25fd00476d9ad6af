package watches

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// MaxAliasNodes bounds how many nodes YAML aliases (*name, including `<<: *name` merges) may add to a watches file
// once every alias is replaced by a copy of its anchor's value. The decoding that follows (merge keys, vars) does
// work in proportion to that expanded size, so a few hundred bytes of nested aliases ("billion laughs") would
// otherwise take exponential time or memory. Real files use anchors for a shared base entry or a shared vars
// block: tens of entries times tens of nodes, a few thousand at most. 100,000 leaves ample room for those while
// keeping the worst case (with the 1 MiB file limit) to milliseconds of work and a few megabytes.
const MaxAliasNodes = 100_000

// aliasError is a problem with one alias; readDocument turns it into an *Error at the alias's line and column.
type aliasError struct {
	node *yaml.Node
	err  error
}

// checkAliases walks the document with every alias followed, without copying anything: it fails on an alias that
// refers to an anchor enclosing it (a cycle, which would make the decoding recurse forever) and once aliases have
// added more than MaxAliasNodes nodes. Afterwards the node graph is acyclic and its expansion is bounded, which
// is what mappingPairs and decodeVars rely on.
func checkAliases(root *yaml.Node) *aliasError {
	w := aliasWalk{size: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	_, err := w.visit(root, false)
	return err
}

type aliasWalk struct {
	size  map[*yaml.Node]int  // expanded size of nodes already walked
	open  map[*yaml.Node]bool // nodes on the path from the root to the current one
	added int                 // nodes that aliases have added so far
}

// visit returns the number of nodes n stands for with its aliases expanded. merge tells that n is the value of a
// `<<` key or an item of such a value, for the message. The recursion is as deep as the document is nested (the
// YAML parser stops at 10,000 levels): an alias's target is walked once and its size remembered.
func (w *aliasWalk) visit(n *yaml.Node, merge bool) (int, *aliasError) {
	if n == nil {
		return 0, nil
	}
	if s, done := w.size[n]; done {
		return s, nil
	}
	if n.Kind == yaml.AliasNode {
		return w.alias(n, merge)
	}
	w.open[n] = true
	defer delete(w.open, n)
	total := 1
	for i, c := range n.Content {
		inMerge := n.Kind == yaml.MappingNode && i%2 == 1 && isMergeKey(n.Content[i-1]) ||
			n.Kind == yaml.SequenceNode && merge
		s, err := w.visit(c, inMerge)
		if err != nil {
			return 0, err
		}
		total += s
	}
	w.size[n] = total
	return total, nil
}

// alias checks one alias and counts what it adds.
func (w *aliasWalk) alias(n *yaml.Node, merge bool) (int, *aliasError) {
	if n.Alias == nil {
		return 1, nil
	}
	if w.open[n.Alias] {
		if merge {
			return 0, &aliasError{n, fmt.Errorf("merge key \"<<\" refers to anchor %q that encloses it", n.Value)}
		}
		return 0, &aliasError{n, fmt.Errorf("alias *%s refers to anchor %q that encloses it", n.Value, n.Value)}
	}
	s, err := w.visit(n.Alias, merge)
	if err != nil {
		return 0, err
	}
	w.added += s
	if w.added > MaxAliasNodes {
		return 0, &aliasError{n, fmt.Errorf("aliases expand the file to more than %d extra nodes (at alias *%s): "+
			"nested anchors multiply; copy the values instead", MaxAliasNodes, n.Value)}
	}
	return s, nil
}

// isMergeKey tells a `<<` key, written plainly or through an alias.
func isMergeKey(k *yaml.Node) bool {
	k = resolveAlias(k)
	return k != nil && k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}
