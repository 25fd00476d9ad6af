package image

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// A Dockerfile as the image test reads it: the stages and, in each, the
// instructions after FROM. Only what build/Dockerfile uses is understood;
// anything else is an error naming its line, so that a new kind of
// instruction makes the test say it does not know it rather than skip it.

// instruction is one logical line: continuations joined, comments dropped.
type instruction struct {
	Line int    // first physical line in the Dockerfile
	Cmd  string // upper case: RUN, ENV, COPY…
	Args string // the rest of the line
}

func (in instruction) String() string { return fmt.Sprintf("line %d: %s %s", in.Line, in.Cmd, in.Args) }

type stage struct {
	Name         string // the AS name, or the stage's index
	From         string // the base image
	Line         int
	Instructions []instruction
}

// readDockerfile parses the Dockerfile at path.
func readDockerfile(path string) ([]stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stages, err := parseDockerfile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return stages, nil
}

// parseDockerfile splits r into stages of instructions.
func parseDockerfile(r io.Reader) ([]stage, error) {
	lines, err := logicalLines(r)
	if err != nil {
		return nil, err
	}
	var stages []stage
	for _, in := range lines {
		if in.Cmd == "FROM" {
			st, err := parseFrom(in, len(stages))
			if err != nil {
				return nil, err
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			return nil, fmt.Errorf("%s: before the first FROM", in)
		}
		last := &stages[len(stages)-1]
		last.Instructions = append(last.Instructions, in)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

// logicalLines joins lines ending in a backslash and drops comments and
// blank lines (also inside a continuation, as Docker does).
func logicalLines(r io.Reader) ([]instruction, error) {
	var out []instruction
	var cur *instruction
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cont := strings.HasSuffix(text, `\`)
		text = strings.TrimSpace(strings.TrimSuffix(text, `\`))
		if cur == nil {
			cmd, args, _ := strings.Cut(text, " ")
			cur = &instruction{Line: n, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		} else {
			cur.Args = strings.TrimSpace(cur.Args + " " + text)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: the last line ends in a backslash", cur)
	}
	return out, nil
}

func parseFrom(in instruction, index int) (stage, error) {
	f := strings.Fields(in.Args)
	switch {
	case len(f) == 1:
		return stage{Name: fmt.Sprint(index), From: f[0], Line: in.Line}, nil
	case len(f) == 3 && strings.EqualFold(f[1], "AS"):
		return stage{Name: f[2], From: f[0], Line: in.Line}, nil
	}
	return stage{}, fmt.Errorf("%s: want FROM image [AS name]", in)
}

// words splits a line as the Dockerfile does for ENV and ARG: on blanks,
// keeping quoted strings and backslash escapes together.
func words(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			b.WriteRune(c)
			escaped = false
		case c == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			b.WriteRune(c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape in %q", s)
	}
	if inWord {
		out = append(out, b.String())
	}
	return out, nil
}

// parseEnv returns the KEY=VALUE pairs of ENV (or ARG with defaults), in order.
func parseEnv(in instruction) ([][2]string, error) {
	ws, err := words(in.Args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	if len(ws) >= 2 && !strings.Contains(ws[0], "=") && in.Cmd == "ENV" {
		// The old form: ENV KEY the rest is the value.
		_, rest, _ := strings.Cut(in.Args, " ")
		return [][2]string{{ws[0], strings.TrimSpace(rest)}}, nil
	}
	var out [][2]string
	for _, w := range ws {
		k, v, ok := strings.Cut(w, "=")
		if !ok && in.Cmd == "ENV" {
			return nil, fmt.Errorf("%s: %q is not KEY=VALUE", in, w)
		}
		out = append(out, [2]string{k, v})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no variable", in)
	}
	return out, nil
}

// copySpec is one COPY: from the build context, or from an earlier stage.
type copySpec struct {
	From    string // stage name; "" for the build context
	Sources []string
	Dest    string
}

func parseCopy(in instruction) (copySpec, error) {
	if strings.HasPrefix(in.Args, "[") {
		return copySpec{}, fmt.Errorf("%s: the image test reads COPY in its plain form only", in)
	}
	f := strings.Fields(in.Args)
	var c copySpec
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		from, ok := strings.CutPrefix(f[0], "--from=")
		if !ok {
			return copySpec{}, fmt.Errorf("%s: the image test does not know the flag %s", in, f[0])
		}
		c.From = from
		f = f[1:]
	}
	if len(f) < 2 {
		return copySpec{}, fmt.Errorf("%s: want COPY source... dest", in)
	}
	c.Sources, c.Dest = f[:len(f)-1], f[len(f)-1]
	return c, nil
}

// parseCommand returns the argv of ENTRYPOINT or CMD: the JSON (exec) form
// as written, the shell form through /bin/sh -c as Docker runs it.
func parseCommand(in instruction) ([]string, error) {
	if !strings.HasPrefix(in.Args, "[") {
		return []string{"/bin/sh", "-c", in.Args}, nil
	}
	var argv []string
	if err := json.Unmarshal([]byte(in.Args), &argv); err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	return argv, nil
}

// parseRun returns the shell command of RUN; the exec form is not used by
// build/Dockerfile and not understood.
func parseRun(in instruction) (string, error) {
	if strings.HasPrefix(in.Args, "[") || strings.HasPrefix(in.Args, "--") {
		return "", fmt.Errorf("%s: the image test reads RUN in its plain shell form only", in)
	}
	return in.Args, nil
}
