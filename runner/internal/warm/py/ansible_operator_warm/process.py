"""Fresh-process state, applied in every fork that stands for a new process."""

import atexit
import io
import os
import signal
import sys
import tempfile
import traceback
import warnings

from .image import IMAGE

def reset_signals():
    """The dispositions a new python3 would start with: exec resets caught
    signals to the default and keeps ignored ones ignored (pexpect's
    SIGHUP, for one), then python3 sets its own."""
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            handler = signal.getsignal(sig)
        except ValueError:
            continue
        if handler in (None, signal.SIG_DFL, signal.SIG_IGN):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_IGN)
    signal.set_wakeup_fd(-1)


_kept = []  # stream objects replaced in a fork: never finalized (they would flush)


def fresh_stdio():
    enc = os.environ.get("PYTHONIOENCODING", "utf-8").split(":")[0] or "utf-8"
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    _kept.extend((sys.stdin, sys.stdout, sys.stderr))
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding=enc)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding=enc,
                                  errors="strict", line_buffering=unbuffered, write_through=unbuffered)
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding=enc,
                                  errors="backslashreplace", line_buffering=True)


def close_fds_from(low):
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= low:
            try:
                os.close(fd)
            except OSError:
                pass


def fresh_process(env, argv0, script_dir):
    """State a new interpreter would have: environment, argv, path, temp dir,
    warnings, exit handlers. Signals and fds are the caller's."""
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # re-read TMPDIR: it is the run's
    sys.argv = [argv0]
    sys.path[:] = [script_dir] + IMAGE.base_path[1:]
    warnings.filters[:] = IMAGE.warning_filters
    atexit._clear()
    sys.excepthook = sys.__excepthook__


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def _finish(code):
    """Leave as an interpreter would, but without tearing the heap down:
    exit handlers run (in a fork, those registered since fresh_process),
    streams flushed."""
    try:
        atexit._run_exitfuncs()
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def run_main(main):
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
        code = 1
    _finish(code)
