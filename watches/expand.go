package watches

import "strings"

// expandEnv replaces ${NAME} and $NAME by the value of the environment variable NAME when it is set. Anything
// else stays exactly as written: references to unset variables, "$$", "$1", "${}", a "$" at the end or before
// any character that cannot start a name. Load applies it to the whole file before parsing, as upstream does, so
// references work anywhere, flow collections and keys included (`- {key: ${LABEL}, operator: Exists}`).
func expandEnv(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		if name, width := varRef(s[i+1:]); name != "" {
			if v, ok := lookup(name); ok {
				b.WriteString(v)
				i += 1 + width
				continue
			}
		}
		b.WriteByte('$')
		i++
	}
	return b.String()
}

// varRef returns the variable name that s starts with, as "{NAME}" or "NAME", and the bytes the reference spans.
func varRef(s string) (name string, width int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 || !isName(s[1:end]) {
			return "", 0
		}
		return s[1:end], end + 1
	}
	n := 0
	for n < len(s) && isNameByte(s[n], n == 0) {
		n++
	}
	return s[:n], n
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	default:
		return !first && '0' <= c && c <= '9'
	}
}
