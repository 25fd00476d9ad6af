package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// dirState is what the root dir checks read from lstat(2).
type dirState struct {
	mode fs.FileMode // type and permission bits, as fs.FileInfo.Mode
	uid  int
}

func lstatDir(path string) (dirState, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return dirState{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirState{}, fmt.Errorf("runner dir %s: no owner in the file info", path)
	}
	return dirState{mode: fi.Mode(), uid: int(st.Uid)}, nil
}

// ensureRootDir creates the runner root dir, and each missing dir above it,
// with mode 0700, walking down from / with lstat so that a symlink planted in
// a shared dir such as /tmp is seen, never followed blindly. Another user who
// owned the root dir, or could write to it or swap a dir above it, could plant
// an inventory script or a kubeconfig that the next run executes or uses as
// this process: such a path is refused (see checkDir).
func ensureRootDir(path string, euid int) error {
	path = filepath.Clean(path)
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	cur := "/"
	for i, name := range parts {
		if name == "" {
			continue // path is "/"
		}
		cur = filepath.Join(cur, name)
		st, err := lstatDir(cur)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(cur, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("create runner dir: %w", err)
			}
			st, err = lstatDir(cur)
		}
		if err != nil {
			return fmt.Errorf("runner dir: %w", err)
		}
		last := i == len(parts)-1
		if err := checkDir(cur, path, st, euid, last); err != nil {
			return err
		}
		if !last && st.mode&fs.ModeSymlink != 0 {
			if err := checkSymlinkTarget(cur, path, euid); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSymlinkTarget checks every dir of the resolved target of link, a dir
// above the runner dir, as an ancestor of the runner dir.
func checkSymlinkTarget(link, root string, euid int) error {
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		return fmt.Errorf("runner dir %s: resolve %s: %w", root, link, err)
	}
	cur := "/"
	for _, name := range strings.Split(strings.TrimPrefix(target, "/"), "/") {
		if name == "" {
			continue
		}
		cur = filepath.Join(cur, name)
		st, err := lstatDir(cur)
		if err != nil {
			return fmt.Errorf("runner dir %s: %w", root, err)
		}
		if st.mode&fs.ModeSymlink != 0 {
			// EvalSymlinks resolved them all: it changed in between.
			return fmt.Errorf("runner dir %s: %s changed while it was checked; start again", root, cur)
		}
		if err := checkDir(cur, root, st, euid, false); err != nil {
			return err
		}
	}
	return nil
}

// fixHint says what to do about a refused runner dir.
const fixHint = "set --runner-dir (Options.RootDir) to a directory only this user can write"

// checkDir decides whether path, the runner root dir (self) or one of its
// ancestors, may be trusted by a process with effective uid euid.
//
// The root dir must be a real directory (not a symlink), owned by euid and
// not writable by group or others: the sticky bit does not help there, since
// whoever can create entries in it can plant files the runs read.
//
// An ancestor must be owned by euid or by root. One of ours must not be
// writable by group or others unless sticky (others could rename our dirs in
// it). One of root's is trusted whatever its mode: it is the system's layout
// (/, /tmp with its sticky bit, and a Kubernetes emptyDir mounted at /tmp,
// which is mode 0777 without the sticky bit). A symlink above the root dir is
// followed only when owned by euid or root, and its target is checked too.
func checkDir(path, root string, st dirState, euid int, self bool) error {
	what := "runner dir " + root
	if !self {
		what = fmt.Sprintf("%s above runner dir %s", path, root)
	}
	isLink := st.mode&fs.ModeSymlink != 0
	switch {
	case self && isLink:
		return fmt.Errorf("%s is a symbolic link (owner uid %d), refused so that nobody can redirect it; %s",
			what, st.uid, fixHint)
	case !isLink && !st.mode.IsDir():
		return fmt.Errorf("%s is not a directory (mode %v); %s", what, st.mode, fixHint)
	case self && st.uid != euid:
		return fmt.Errorf("%s is owned by uid %d, not by this process's uid %d: that user could plant files the runs execute; %s",
			what, st.uid, euid, fixHint)
	case self && st.mode.Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %v, owner uid %d); remove it or chmod go-w it, or %s",
			what, st.mode.Perm(), st.uid, fixHint)
	case self:
		return nil
	case st.uid != euid && st.uid != 0:
		return fmt.Errorf("%s is owned by uid %d, neither this process's uid %d nor root: that user could swap the runner dir; %s",
			what, st.uid, euid, fixHint)
	case st.uid == euid && euid != 0 && !isLink && st.mode.Perm()&0o022 != 0 && st.mode&fs.ModeSticky == 0:
		return fmt.Errorf("%s is writable by group or others without the sticky bit (mode %v, owner uid %d): they could swap the runner dir; chmod go-w it, or %s",
			what, st.mode.Perm(), st.uid, fixHint)
	}
	return nil
}
