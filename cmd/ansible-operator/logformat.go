package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/go-logr/logr"
	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// --log-format values.
const (
	logFormatAuto = "auto" // text on a terminal, else JSON
	logFormatJSON = "json" // one JSON object per line: upstream's default
	logFormatText = "text" // for people: runs' tasks as ansible-playbook prints them
)

// chooseLogFormat resolves --log-format with upstream's zap flags, so that
// their every use keeps its meaning: --zap-encoder json or console ("" when
// not given) means json or text, and contradicting an explicit json or text
// is an error; with auto, --zap-encoder decides, else --zap-devel means
// text, else text on a terminal and JSON otherwise.
func chooseLogFormat(format, zapEncoder string, zapDevel, terminal bool) (string, error) {
	fromEncoder := map[string]string{"": "", "json": logFormatJSON, "console": logFormatText}[zapEncoder]
	switch {
	case format != logFormatAuto && format != logFormatJSON && format != logFormatText:
		return "", fmt.Errorf("--log-format %q: want auto, json or text", format)
	case format == logFormatAuto && fromEncoder != "":
		return fromEncoder, nil
	case format == logFormatAuto && (zapDevel || terminal):
		return logFormatText, nil
	case format == logFormatAuto:
		return logFormatJSON, nil
	case fromEncoder != "" && fromEncoder != format:
		return "", fmt.Errorf("--log-format %s and --zap-encoder %s disagree; give one", format, zapEncoder)
	}
	return format, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newLogger is the operator's logger: the zap flags' options in the given
// format, written to out.
func newLogger(zapOpts *zap.Options, format string, out io.Writer) logr.Logger {
	opts := []zap.Opts{zap.UseFlagOptions(zapOpts), zap.WriteTo(out)}
	if format == logFormatText {
		opts = append(opts, zap.ConsoleEncoder(), zap.RawZapOpts(uzap.WrapCore(newTextCore)))
	} else {
		opts = append(opts, zap.JSONEncoder())
	}
	return zap.New(opts...)
}

// textCore renders the log lines of Ansible runs (see the runner package
// doc, "Log lines") as ansible-playbook prints tasks, one line per task
// result, named by the resource:
//
//	changed: [Mcrouter default/x] TASK [mcrouter : Create the StatefulSet] 0.41s
//	fatal: [Mcrouter default/x] TASK [mcrouter : Check] 0.05s: FAILED! => the message
//
// Task starts show at debug level only. Every other line goes to the console
// encoder as it is.
type textCore struct {
	root zapcore.Core    // without context fields
	full zapcore.Core    // root with ctx
	ctx  []zapcore.Field // the context fields, kept to be rendered
}

var _ zapcore.Core = (*textCore)(nil)

func newTextCore(c zapcore.Core) zapcore.Core { return &textCore{root: c, full: c} }

func (c *textCore) Enabled(l zapcore.Level) bool { return c.root.Enabled(l) }

func (c *textCore) With(fields []zapcore.Field) zapcore.Core {
	return &textCore{root: c.root, full: c.full.With(fields), ctx: append(slices.Clip(c.ctx), fields...)}
}

func (c *textCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *textCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	line, rest, ok := renderRunLine(e.Message, append(slices.Clip(c.ctx), fields...), c.root.Enabled(zapcore.DebugLevel))
	switch {
	case !ok:
		return c.full.Write(e, fields)
	case line == "":
		return nil
	}
	e.Message, e.LoggerName = line, ""
	return c.root.Write(e, rest)
}

func (c *textCore) Sync() error { return c.root.Sync() }
