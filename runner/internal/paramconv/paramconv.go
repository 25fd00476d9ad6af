package paramconv

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// letterDigitsLetterDigits finds "a1b2"-shaped runs; the digits are split off
// as their own word, the same way upstream does it.
var letterDigitsLetterDigits = regexp.MustCompile(`([a-zA-Z])(\d+)([a-zA-Z](\d+))`)

// acronyms are kept together as one word. The order is fixed so that the
// result never depends on iteration order.
var acronyms = [...]string{"HTTP", "URL", "IP"}

// ToSnake converts one key to snake_case. See the package documentation for
// the rules.
func ToSnake(key string) string {
	s := letterDigitsLetterDigits.ReplaceAllString(key, "$1 $2 $3")
	s = strings.Trim(s, " ")
	if s == "" {
		return ""
	}
	prefix := ""
	if isUpper(s[0]) {
		prefix = "_"
	}
	if strings.ToUpper(s) != s {
		s = isolateAcronyms(s)
	}
	words := splitWords(s)
	if isAcronym(words[0]) {
		return strings.Join(words, "_")
	}
	return prefix + strings.Join(words, "_")
}

// isolateAcronyms surrounds the first occurrence of each acronym with
// underscores so that splitWords treats it as a word of its own. A plural
// "s" right after the acronym becomes part of it ("IPs" → "_IPS").
func isolateAcronyms(s string) string {
	for _, word := range acronyms {
		at := strings.Index(s, word)
		if at < 0 {
			continue
		}
		end := at + len(word)
		before, after := s[:at], s[end:]
		switch {
		case after == "":
			s = before + "_" + word
		case after[0] == 's' && len(after) == 1:
			s = before + "_" + word + "S"
		case after[0] == 's' && at == 0:
			s = word + "S_" + after[1:]
		case after[0] == 's':
			s = before + "_" + word + "S_" + after[1:]
		case at == 0:
			s = word + "_" + after
		default:
			s = before + "_" + word + "_" + after
		}
	}
	return s
}

// splitWords cuts s at spaces, underscores and dashes, before an upper-case
// letter followed by a lower-case one, and after a lower-case letter followed
// by an upper-case one. Words are lower-cased; empty words are kept.
func splitWords(s string) []string {
	var words []string
	var word strings.Builder
	for i, r := range s {
		caseChange := false
		if i+1 < len(s) && r < 0x80 {
			c, next := byte(r), s[i+1]
			caseChange = (isUpper(c) && isLower(next)) || (isLower(c) && isUpper(next))
		}
		switch {
		case word.Len() > 0 && caseChange && isUpper(byte(r)):
			words = append(words, strings.ToLower(word.String()))
			word.Reset()
			word.WriteRune(r)
		case word.Len() > 0 && caseChange:
			word.WriteRune(r)
			words = append(words, strings.ToLower(word.String()))
			word.Reset()
		case r == ' ' || r == '_' || r == '-':
			words = append(words, strings.ToLower(word.String()))
			word.Reset()
		default:
			word.WriteRune(r)
		}
	}
	return append(words, strings.ToLower(word.String()))
}

func isAcronym(word string) bool {
	for _, a := range acronyms {
		if strings.ToLower(a) == word {
			return true
		}
	}
	return false
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// MapToSnake returns a copy of in with every key converted by ToSnake, also
// inside nested maps and maps in lists. Values other than maps and lists are
// shared with in, never modified. Two keys of one map that convert to the
// same name are a *CollisionError; root names the map in its path (e.g.
// "spec").
func MapToSnake(root string, in map[string]any) (map[string]any, error) {
	return convertMap(root, in)
}

// CollisionError reports two keys of one map that convert to the same name.
type CollisionError struct {
	// Path is the map holding both keys, in the notation of JoinKey.
	Path string
	// Keys are the two keys, sorted.
	Keys [2]string
	// Name is what both convert to.
	Name string
}

func (e *CollisionError) Error() string { return e.Path + ": " + e.Reason() }

// Reason is the error without its path.
func (e *CollisionError) Reason() string {
	return fmt.Sprintf("keys %q and %q both convert to %q; rename one or set snakeCaseParameters: false",
		e.Keys[0], e.Keys[1], e.Name)
}

// maxPathKey bounds how much of one key Quote shows.
const maxPathKey = 64

// JoinKey appends a map key to a path: ".key" for a key of letters, digits,
// "_" and "-" not starting with a digit, else "[" + Quote(key) + "]".
func JoinKey(path, key string) string {
	if plainKey(key) {
		return path + "." + key
	}
	return path + "[" + Quote(key) + "]"
}

// Quote quotes s as in Go, shortened to its first 64 bytes and "…" when
// longer: paths and names end up in status messages and Events, and a key
// can be as long as the object.
func Quote(s string) string {
	if len(s) > maxPathKey {
		cut := maxPathKey
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// JoinIndex appends a list index to a path: "[i]".
func JoinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func plainKey(key string) bool {
	if key == "" || len(key) > maxPathKey || (key[0] >= '0' && key[0] <= '9') {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(isUpper(c) || isLower(c) || (c >= '0' && c <= '9') || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func convertMap(path string, in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(in))
	from := make(map[string]string, len(in))
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sk := ToSnake(k)
		if prev, dup := from[sk]; dup {
			return nil, &CollisionError{Path: path, Keys: [2]string{prev, k}, Name: sk}
		}
		from[sk] = k
		v, err := convertValue(JoinKey(path, k), in[k])
		if err != nil {
			return nil, err
		}
		out[sk] = v
	}
	return out, nil
}

func convertValue(path string, v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		return convertMap(path, v)
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			c, err := convertValue(JoinIndex(path, i), item)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	default:
		return v, nil
	}
}
