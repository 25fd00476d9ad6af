package warm

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/procfs"
)

// serverFiles is the server: py/server.py and its package
// ansible_operator_warm, written to Options.Dir at each start.
//
//go:embed py/server.py py/ansible_operator_warm/*.py
var serverFiles embed.FS

// protocol is the version of the messages server.py speaks.
const protocol = 1

// maxMessage bounds one message from the server.
const maxMessage = 1 << 20

// ErrDied is the error of the processes of a server that died or was
// closed before they ended; the caller kills what is left of them.
var ErrDied = errors.New("warm executor died")

// Request is one ansible-runner process to start.
type Request struct {
	// Argv is the ansible-runner command line, its executable first.
	Argv []string
	// Env is the environment of the process, "KEY=value" entries.
	Env []string
	// Dir is its working dir.
	Dir string
	// Stdin, Stdout and Stderr become its fds 0, 1 and 2. The caller
	// keeps them: the server holds its own copies until the fork.
	Stdin, Stdout, Stderr *os.File
}

// Proc is a process forked by the server, leader of its own session and
// process group. It is not a child of this process: it is signalled by
// pid and its end is reported by the server.
type Proc struct {
	Pid    int
	done   chan struct{}
	status syscall.WaitStatus
	err    error
}

// Done is closed when the process has ended or its server died.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to end and returns its wait status, or
// ErrDied when the server died first.
func (p *Proc) Wait() (syscall.WaitStatus, error) {
	<-p.done
	return p.status, p.err
}

// server is one warm python3 process running server.py.
type server struct {
	cmd   *exec.Cmd
	conn  *net.UnixConn
	log   logr.Logger
	ready chan readyMsg
	// readDone and stderrDone are closed when the reader of the socket
	// and the logger of the server's stderr have returned.
	readDone, stderrDone chan struct{}

	writeMu sync.Mutex // one request written at a time

	mu        sync.Mutex
	nextID    int64
	abandoned map[int64]bool // calls whose fork is killed when reported
	calls     map[int64]chan reply
	procs     map[int64]*Proc
	runs      int
	dead      bool
	deadErr   error
	idle      *sync.Cond // signalled when procs shrinks or the server dies
}

type readyMsg struct {
	Ready   int     `json:"ready"`
	Pid     int     `json:"pid"`
	LoadCPU float64 `json:"load_cpu"`
}

type reply struct {
	ID     int64  `json:"id"`
	Pid    int    `json:"pid"`
	Status *int   `json:"status"`
	Error  string `json:"error"`
	Ready  int    `json:"ready"`
}

// startServer starts server.py and waits until it has imported everything
// or ctx ends.
func startServer(ctx context.Context, o Options) (*server, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("warm executor dir: %w", err)
	}
	if o.TempDir != "" {
		if err := os.RemoveAll(o.TempDir); err != nil {
			return nil, fmt.Errorf("warm executor temp dir: %w", err)
		}
		if err := os.MkdirAll(o.TempDir, 0o700); err != nil {
			return nil, fmt.Errorf("warm executor temp dir: %w", err)
		}
	}
	if err := writeServer(o.Dir); err != nil {
		return nil, err
	}
	script := filepath.Join(o.Dir, "server.py")
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("warm executor socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "warm"), os.NewFile(uintptr(fds[1]), "warm-server")
	defer theirs.Close()
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("warm executor socket: %w", err)
	}
	conn := fc.(*net.UnixConn)

	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("warm executor stderr: %w", err)
	}
	cmd := exec.Command(o.Python, script)
	cmd.Dir = o.Dir
	cmd.Env = o.Env
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Stderr = stderrW
	// Its own group, so that a signal to the operator's group spares it;
	// killed with the operator even when the operator cannot stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	stderrW.Close()
	if err != nil {
		conn.Close()
		stderrR.Close()
		return nil, fmt.Errorf("start warm executor %s: %w", o.Python, err)
	}
	s := &server{cmd: cmd, conn: conn, log: o.Log, ready: make(chan readyMsg, 1),
		readDone: make(chan struct{}), stderrDone: make(chan struct{}),
		calls: map[int64]chan reply{}, procs: map[int64]*Proc{}, abandoned: map[int64]bool{}}
	s.idle = sync.NewCond(&s.mu)
	go s.logStderr(stderrR)
	go s.read()

	select {
	case r := <-s.ready:
		if r.Ready != protocol {
			s.kill()
			return nil, fmt.Errorf("warm executor speaks protocol %d, want %d", r.Ready, protocol)
		}
		s.log.V(1).Info("warm executor ready", "pid", r.Pid, "cpu", r.LoadCPU)
		return s, nil
	case <-s.readDone:
		s.kill()
		return nil, fmt.Errorf("warm executor did not start: %w", s.err())
	case <-ctx.Done():
		s.kill()
		return nil, fmt.Errorf("warm executor did not start: %w", context.Cause(ctx))
	}
}

// writeServer writes the server's files under dir, replacing each whole.
func writeServer(dir string) error {
	return fs.WalkDir(serverFiles, "py", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimPrefix(path, "py"))
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return fmt.Errorf("write warm executor: %w", err)
			}
			return nil
		}
		data, err := serverFiles.ReadFile(path)
		if err != nil {
			return err
		}
		return writeFile(dst, data)
	})
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write warm executor: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write warm executor: %w", err)
	}
	return nil
}

// logStderr logs what the server itself writes (a traceback when it fails).
func (s *server) logStderr(r io.ReadCloser) {
	defer close(s.stderrDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.log.Info("warm executor", "output", sc.Text())
	}
}

// read dispatches the server's messages until the connection ends.
func (s *server) read() {
	defer close(s.readDone)
	buf := make([]byte, maxMessage)
	for {
		n, _, _, _, err := s.conn.ReadMsgUnix(buf, nil)
		if err == nil && n == 0 {
			err = io.EOF
		}
		if err != nil {
			s.die(err)
			return
		}
		var r reply
		if err := json.Unmarshal(buf[:n], &r); err != nil {
			s.die(fmt.Errorf("bad message from the warm executor: %w", err))
			return
		}
		if r.Ready != 0 {
			var m readyMsg
			_ = json.Unmarshal(buf[:n], &m) // decoded once already
			s.ready <- m
			continue
		}
		s.deliver(r)
	}
}

func (s *server) deliver(r reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Status != nil {
		if p, ok := s.procs[r.ID]; ok {
			p.status = syscall.WaitStatus(*r.Status)
			close(p.done)
			delete(s.procs, r.ID)
			s.idle.Broadcast()
		}
		return
	}
	if s.abandoned[r.ID] {
		delete(s.abandoned, r.ID)
		delete(s.calls, r.ID)
		if r.Pid > 0 {
			_ = syscall.Kill(-r.Pid, syscall.SIGKILL) // its end is reported, and ends its Proc
		}
		return
	}
	if c, ok := s.calls[r.ID]; ok {
		c <- r
		delete(s.calls, r.ID)
	}
}

// die marks the server dead: waiting calls and processes end with ErrDied.
func (s *server) die(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return
	}
	s.dead = true
	s.deadErr = fmt.Errorf("%w: %w", ErrDied, cause)
	for id, c := range s.calls {
		c <- reply{ID: id, Error: s.deadErr.Error()}
		delete(s.calls, id)
	}
	for id, p := range s.procs {
		p.err = s.deadErr
		close(p.done)
		delete(s.procs, id)
	}
	s.idle.Broadcast()
}

// start asks the server to fork req and waits for the fork, at most
// forkWait: a server that does not fork in time is killed. When ctx ends
// first, the fork, if it happens, is killed.
func (s *server) start(ctx context.Context, req Request, forkWait time.Duration) (*Proc, error) {
	s.mu.Lock()
	if s.dead {
		err := s.deadErr
		s.mu.Unlock()
		return nil, err
	}
	s.nextID++
	id := s.nextID
	c := make(chan reply, 1)
	s.calls[id] = c
	p := &Proc{done: make(chan struct{})}
	s.procs[id] = p
	s.runs++
	s.mu.Unlock()

	if err := s.send(id, req, forkWait); err != nil {
		s.forget(id)
		return nil, fmt.Errorf("send run to the warm executor: %w", err)
	}
	timer := time.NewTimer(forkWait)
	defer timer.Stop()
	select {
	case r := <-c:
		if r.Error != "" {
			s.forget(id)
			return nil, fmt.Errorf("warm executor: %s", r.Error)
		}
		p.Pid = r.Pid
		return p, nil
	case <-timer.C:
		s.kill()
		return nil, fmt.Errorf("warm executor did not fork within %s", forkWait)
	case <-ctx.Done():
		s.abandon(id, c)
		return nil, fmt.Errorf("run ended before the warm executor forked it: %w", context.Cause(ctx))
	}
}

// send writes the request of a run. Writes are serialized so that each
// has its own deadline: a server that does not read is not waited for.
func (s *server) send(id int64, req Request, wait time.Duration) error {
	msg, err := json.Marshal(map[string]any{"id": id, "argv": req.Argv, "env": req.Env, "cwd": req.Dir})
	if err != nil {
		return err
	}
	if len(msg) > maxMessage {
		return fmt.Errorf("request of %d bytes passes the limit of %d", len(msg), maxMessage)
	}
	oob := syscall.UnixRights(int(req.Stdin.Fd()), int(req.Stdout.Fd()), int(req.Stderr.Fd()))
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(wait))
	_, _, err = s.conn.WriteMsgUnix(msg, oob, nil)
	return err
}

// abandon gives up waiting for the fork of call id: a fork reported later
// is killed at once.
func (s *server) abandon(id int64, c chan reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, pending := s.calls[id]; pending {
		s.abandoned[id] = true
		return
	}
	select {
	case r := <-c: // reported just before
		if r.Pid > 0 {
			_ = syscall.Kill(-r.Pid, syscall.SIGKILL)
		}
	default:
	}
}

func (s *server) forget(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.calls, id)
	delete(s.procs, id)
	s.idle.Broadcast()
}

// alive reports whether the server takes runs, and how many it forked.
func (s *server) alive() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.dead, s.runs
}

// closeWhenIdle waits until the processes of the server have ended, then
// closes it: the server exits when its socket closes.
func (s *server) closeWhenIdle() {
	s.mu.Lock()
	for len(s.procs) > 0 && !s.dead {
		s.idle.Wait()
	}
	s.mu.Unlock()
	s.close()
}

// close closes the socket (the server kills the processes it still has and
// exits) and waits for the server to exit.
func (s *server) close() {
	s.conn.Close()
	<-s.readDone
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(killWait):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	<-s.stderrDone
}

// err is why the server died.
func (s *server) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadErr
}

// kill kills the server and waits for it.
func (s *server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.close()
}

// killWait bounds the wait for a closed server to exit.
const killWait = 10 * time.Second

// rss is the server's resident memory in bytes (VmRSS), 0 when unknown or
// when the server is a zombie (its status has no memory lines).
func (s *server) rss() int64 {
	p, err := procfs.NewProc(s.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return int64(st.VmRSS)
}
