"""What the benchmarks under bench/ share: reading CPU time and memory from
/proc, waiting for a quiet machine, parsing wrk's units, describing the
machine. Standard library only; each bench.py puts bench/ on sys.path."""

import json
import os
import platform
import re
import signal
import resource
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    """utime + stime of one process (all its threads), in seconds."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def proc_meminfo_kib(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def machine_busy_seconds():
    """CPU seconds the whole machine has spent not idle (all cores)."""
    with open("/proc/stat") as f:
        cpu = f.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, cpu[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def children_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def background_load(seconds=1.0):
    """Cores busy with other work over a short idle sample (the benchmark's
    own idle processes included; they use next to nothing)."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


def run_each(items, only, workdir, measure_one, not_measured):
    """Measures each item (a back end, an engine) named in `only` (all when
    empty), each in a directory of its own under `workdir` (mode 755, so
    servers running as other users can enter it). `measure_one(item, dir)`
    returns its result; an item that cannot run (RuntimeError, OSError, a
    failed command) gets `not_measured(item, error)` instead and does not
    cost the others their numbers. Returns the results and the background
    load just before and just after."""
    results = []
    load_before = background_load(1.0)
    for item in items:
        if only and item.name not in only:
            continue
        here = os.path.join(workdir, item.name)
        os.makedirs(here)
        os.chmod(here, 0o755)
        try:
            results.append(measure_one(item, here))
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            log(f"{item.name}: not measured: {err}")
            results.append(not_measured(item, str(err)))
        finally:
            item.stop()
    return results, load_before, background_load(1.0)


def write_outputs(args, text, results):
    """Prints the report and writes it to --output and the results to
    --json, when given."""
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def wait_quiet(limit, max_wait):
    """Wait (up to max_wait s) for the machine to be quiet; returns the load seen."""
    deadline = time.monotonic() + max_wait
    while True:
        load = background_load(1.0)
        if load <= limit or time.monotonic() >= deadline:
            return load
        log(f"machine busy ({load:.2f} cores in use by other work); waiting")
        time.sleep(4)


def parse_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * UNITS[unit]


def median(results, key):
    return statistics.median(r[key] for r in results)


def fmt(value, digits=0):
    return f"{value:,.{digits}f}"


def machine_facts():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = proc_meminfo_kib("MemTotal") / 2**20
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{nproc} cores (`nproc` = {nproc}), {model}, {mem_gib:.0f} GiB, Linux {platform.release()}"


def version_of(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout + out.stderr).strip().splitlines()[0].split(" Copyright")[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


class Process:
    """A long-running process in a session of its own, logging to a file."""

    def __init__(self, label, cmd, cpu, log_path, env=None, cwd=None, stop_timeout=10):
        self.label, self.log_path, self.stop_timeout = label, log_path, stop_timeout
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd  # taskset execs: same pid
        with open(log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group it leads (children such as a hub's proxy).
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        self.proc = None


def wait_until(what, check, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{what} exited at start-up; log:\n{process.log()}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer in {timeout} s; log:\n{process.log()}")
