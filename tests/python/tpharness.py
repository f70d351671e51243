"""Shared harness for python tests: compiles the proto, resets the database, runs tenderpoold."""

import datetime
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import zmq

BUILD_DIR = os.environ.get("TP_BUILD_DIR", "")
SOURCE_DIR = os.environ.get("TP_SOURCE_DIR", "")
RECV_TIMEOUT = 10.0


def _require_env():
    missing = [n for n in ("TP_BUILD_DIR", "TP_SOURCE_DIR") if not os.environ.get(n)]
    if missing:
        raise RuntimeError("environment not set: " + ", ".join(missing) +
                           " (ctest sets them; see tests/CMakeLists.txt)")


def dsn():
    """The test database: TENDERPOOL_TEST_DSN, else $TP_TEST_PGDIR/dsn (written by pgtmp.sh)."""
    env = os.environ.get("TENDERPOOL_TEST_DSN")
    if env:
        return env
    pgdir = os.environ.get("TP_TEST_PGDIR")
    if not pgdir:
        raise RuntimeError("neither TENDERPOOL_TEST_DSN nor TP_TEST_PGDIR is set")
    with open(os.path.join(pgdir, "dsn"), encoding="utf-8") as f:
        return f.read().strip()


_PB2 = None


def pb2():
    """Compile proto/tenderpool/v1/tenderpool.proto with protoc and import tenderpool_pb2 (once)."""
    global _PB2
    if _PB2 is not None:
        return _PB2
    _require_env()
    out = tempfile.mkdtemp(prefix="tp-py-proto-")
    try:
        subprocess.run(["protoc", "--python_out=" + out, "-I", os.path.join(SOURCE_DIR, "proto"),
                        os.path.join(SOURCE_DIR, "proto/tenderpool/v1/tenderpool.proto")],
                       check=True, capture_output=True, text=True)
        path = os.path.join(out, "tenderpool", "v1", "tenderpool_pb2.py")
        spec = importlib.util.spec_from_file_location("tenderpool_pb2", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["tenderpool_pb2"] = mod
        spec.loader.exec_module(mod)
    except subprocess.CalledProcessError as e:
        raise RuntimeError("protoc failed: " + e.stderr) from e
    finally:
        shutil.rmtree(out, ignore_errors=True)
    _PB2 = mod
    return mod


def psql(sql, database=None):
    """Run one statement with psql -At; return a list of rows, each a list of column strings."""
    r = subprocess.run(["psql", database or dsn(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
                        "-c", sql], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("psql failed (%d) on %r: %s" % (r.returncode, sql, r.stderr.strip()))
    return [line.split("|") for line in r.stdout.splitlines()]


def psql_value(sql):
    rows = psql(sql)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise AssertionError("expected one value from %r, got %r" % (sql, rows))
    return rows[0][0]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_by(days=30):
    """A need_by date relative to today, so tests don't rot."""
    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


class Daemon:
    """One tenderpoold in a private temp dir, with its own config and log."""

    def __init__(self, workers=2, period="1w", extra=""):
        _require_env()
        self.dir = tempfile.mkdtemp(prefix="tp-py-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.control = "ipc://%s/control" % self.dir
        self.conf = os.path.join(self.dir, "tenderpoold.conf")
        self.log = os.path.join(self.dir, "daemon.log")
        self.proc = None
        self.write_config(workers, period, extra)

    def write_config(self, workers=2, period="1w", extra=""):
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("[intake]\nendpoint = %s\n\n"
                    "[control]\nendpoint = %s\n\n"
                    "[metrics]\nlisten = 127.0.0.1:%d\n\n"
                    "[database]\ndsn = %s\n\n"
                    "[workers]\ncount = %d\nruntime_dir = %s/run\n\n"
                    "[rounds]\nperiod = %s\ntimezone = Europe/Paris\n\n"
                    "[log]\nlevel = info\n\n"
                    "%s\n%s\n"
                    % (self.endpoint, self.control, free_port(), dsn(), workers, self.dir,
                       period, "" if "[security]" in extra else "[security]\nmode = none\n",
                       extra))

    def reset_db(self):
        """Drop the schema and re-apply the migrations with `tenderpool migrate`."""
        psql("DROP SCHEMA IF EXISTS tenderpool CASCADE")
        r = subprocess.run([os.path.join(BUILD_DIR, "tenderpool"), "migrate", "-c", self.conf],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("tenderpool migrate failed (%d): %s%s"
                               % (r.returncode, r.stdout, r.stderr))

    def start(self, timeout=60.0):
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen([os.path.join(BUILD_DIR, "tenderpoold"), "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise RuntimeError("tenderpoold exited with %d during start-up:\n%s"
                                   % (rc, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("tenderpoold did not accept TCP on port %d within %.0f s:\n%s"
                           % (self.port, timeout, self.log_tail()))

    def stop(self, timeout=30.0):
        """SIGTERM, wait; return the exit code (killed with SIGKILL after `timeout`: returns None)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self.proc = None
        return rc

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def sanitizer_reports(self):
        """Lines of the daemon log where AddressSanitizer/UBSan reported a fault (sanitizer builds)."""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return [l for l in f if "runtime error:" in l or "Sanitizer" in l]
        except OSError:
            return []

    def log_tail(self, lines=40):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self, keep=False):
        self.kill()
        if keep or os.environ.get("TP_KEEP_TMP"):
            sys.stderr.write("tpharness: keeping %s for inspection\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """A ZeroMQ DEALER connected to the intake endpoint: one frame out, one frame back."""

    def __init__(self, endpoint, ctx=None, curve=None):
        """curve: (client public, client secret, server public) Z85 keys, e.g. from
        zmq.auth.load_certificate; None for [security] mode = none."""
        self.pb = pb2()
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            self.sock.curve_publickey, self.sock.curve_secretkey, self.sock.curve_serverkey = curve
        self.sock.connect(endpoint)

    def close(self):
        self.sock.close(0)

    def send(self, msg):
        """Send a ClientMessage (or raw bytes) as one frame."""
        self.sock.send(msg if isinstance(msg, (bytes, bytearray)) else msg.SerializeToString())

    def recv(self, timeout=RECV_TIMEOUT):
        """Receive one ServerMessage; AssertionError on timeout or a reply that does not decode."""
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            raise AssertionError("no reply from tenderpoold within %.0f s" % timeout)
        frames = self.sock.recv_multipart()
        if len(frames) != 1:
            raise AssertionError("reply has %d frames, expected 1" % len(frames))
        reply = self.pb.ServerMessage()
        reply.ParseFromString(frames[0])
        return reply

    def call(self, msg, timeout=RECV_TIMEOUT):
        """Send one message and wait for its reply (matched by batch_id/query_id when known)."""
        self.send(msg)
        want = None
        if not isinstance(msg, (bytes, bytearray)):
            kind = msg.WhichOneof("kind")
            if kind == "batch":
                want = ("batch_ack", msg.batch.batch_id)
            elif kind == "status":
                want = ("status", msg.status.query_id)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.recv(max(0.0, deadline - time.monotonic()))
            if want is None:
                return reply
            kind = reply.WhichOneof("kind")
            if kind == want[0]:
                body = getattr(reply, kind)
                got = body.batch_id if kind == "batch_ack" else body.query_id
                if got == want[1]:
                    return reply
            sys.stderr.write("tpharness: ignoring unexpected reply %r\n" % reply)


def run_main(module_name="__main__"):
    """Run a test module with unittest, print "N passed, N failed" last, exit non-zero on failure."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    # a setUpClass/tearDownClass error is reported against a holder, not a test that ran
    real_failed = len({t.id() for t, _ in result.failures + result.errors
                       if isinstance(t, unittest.TestCase)})
    passed = result.testsRun - real_failed - len(result.skipped) - len(result.unexpectedSuccesses)
    sys.stderr.flush()
    sys.stdout.write("%d passed, %d failed\n" % (max(passed, 0), failed))
    sys.stdout.flush()
    sys.exit(0 if failed == 0 and result.wasSuccessful() else 1)
