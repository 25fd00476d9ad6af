"""Record this process's ancestry, then sleep until killed.

Usage: sleeper.py PID_FILE STOP_AT_PID

Writes a JSON list of [pid, pgid] for this process and each ancestor up to,
not including, STOP_AT_PID (the test process), then sleeps for an hour.
"""
import json
import os
import sys
import time


def parent(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1])


def main():
    pid_file, stop_at = sys.argv[1], int(sys.argv[2])
    chain, pid = [], os.getpid()
    while pid > 1 and pid != stop_at:
        chain.append([pid, os.getpgid(pid)])
        pid = parent(pid)
    tmp = pid_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(chain, f)
    os.rename(tmp, pid_file)
    time.sleep(3600)


main()
