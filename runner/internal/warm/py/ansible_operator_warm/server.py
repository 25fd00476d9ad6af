"""The server loop: requests in, forks out, wait statuses back."""

import array
import json
import os
import selectors
import signal
import socket
import traceback

from .image import IMAGE
from .playbook import run_child
from .process import close_fds_from, run_main
from .templates import PRUNE_EVERY, TEMPLATE_CACHE, prune_template_cache

PROTOCOL = 1
MAX_MSG = 1 << 20

# The server loop.

def _send(sock, msg):
    sock.send(json.dumps(msg).encode())


def _recv(sock):
    fds = array.array("i")
    data, ancdata, _, _ = sock.recvmsg(MAX_MSG, socket.CMSG_SPACE(8 * fds.itemsize))
    for level, typ, cdata in ancdata:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(cdata[:len(cdata) - (len(cdata) % fds.itemsize)])
    return data, list(fds)


def serve(sock):
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children = {}
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.fileobj is sock:
                data, fds = _recv(sock)
                if not data:
                    _shutdown(children)
                    return
                _handle(sock, wake_r, wake_w, data, fds, children)
            else:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
        _reap(sock, children)


def _handle(sock, wake_r, wake_w, data, fds, children):
    try:
        req = json.loads(data)
        rid = req["id"]
    except (ValueError, KeyError, TypeError) as exc:
        for fd in fds:
            os.close(fd)
        _send(sock, {"error": "bad request: %s" % exc})
        return
    if req.get("op") == "ping":
        _send(sock, {"id": rid, "pid": os.getpid(), "runs": IMAGE.runs})
        return
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        _send(sock, {"id": rid, "error": "want 3 fds (stdin, stdout, stderr), got %d" % len(fds)})
        return
    pid = os.fork()
    if pid == 0:
        try:
            for i, fd in enumerate(fds):
                os.dup2(fd, i)
            sock.close()
            for fd in (wake_r, wake_w):
                os.close(fd)
            close_fds_from(3)
            run_child(req)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)
    IMAGE.runs += 1
    if IMAGE.runs % PRUNE_EVERY == 0:
        prune_template_cache(os.path.join(os.getcwd(), TEMPLATE_CACHE))
    children[pid] = rid
    _send(sock, {"id": rid, "pid": pid})


def _reap(sock, children):
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        rid = children.pop(pid, None)
        if rid is not None:
            _send(sock, {"id": rid, "status": status})


def _shutdown(children):
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def main():
    # Leave without tearing the image's heap down: that took 0.8 s on an
    # idle machine and several on a busy one, and the operator's stop
    # waits for it.
    run_main(_serve_image)


def _serve_image():
    sock = socket.socket(fileno=3)
    os.set_inheritable(3, False)
    load = IMAGE.load()
    _send(sock, {"ready": PROTOCOL, "pid": os.getpid(), "load_cpu": load,
                 "python": IMAGE.python, "ansible_playbook": IMAGE.playbook_path})
    serve(sock)
