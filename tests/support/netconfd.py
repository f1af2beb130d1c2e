"""A real yuma123 ``netconfd`` behind a private OpenSSH ``sshd``, for tests.

Everything lives in a private temporary directory: host key, client key,
``authorized_keys``, ``known_hosts``, the sshd config, the netconfd UNIX
socket, logs and netconfd's "yuma home" (where it keeps its txid file and
its startup datastore).  sshd listens on ``127.0.0.1`` on a port the OS
picked; nothing shared (``/tmp/ncxserver.sock``, ``~/.yuma``,
``/etc/yuma/netconfd.conf``, the system sshd) is read or written, so any
number of servers can run at the same time.

The server loads a small YANG module of its own (``nctw-test``, namespace
:data:`TEST_NS`, see :data:`TEST_MODULE_YANG`) that has no SIL code, so
editing it touches nothing on the machine.  (The ietf-interfaces SIL that
Debian ships runs ``ifconfig NAME up/down`` on commit, so do not load it.)

netconfd flags chosen (see :meth:`NetconfdServer.netconfd_command`):

* ``--target=candidate`` (the default: :candidate, no :writable-running);
* ``--with-startup=true`` (:startup; copy-config / delete-config on startup);
* ``--with-validate=true`` (the default: :validate 1.0 and 1.1);
* ``--with-url=false``: yuma123 2.13 advertises ``:url?scheme=file`` by
  default, but copy-config to a ``file://`` URL answers ``NULL pointer`` or
  ``<ok/>`` while writing a file with a garbage name into its working
  directory, so it is turned off;
* ``--no-startup``: every (re)start begins with an empty configuration.

Known netconfd 2.13 behaviour worth knowing when writing tests:

* ``<validate><source><candidate/>`` throws away the candidate's
  uncommitted changes (a following ``commit`` answers ``<ok/>`` and
  changes nothing).  Validating ``running`` or an inline ``<config>``
  (``m.validate(source=to_ele(...))``) leaves the candidate alone.
* Reliable ``rpc-error``s (all ``error-severity`` ``error``): ``lock`` of a
  datastore already locked, by another session or the same one
  (``lock-denied``); ``edit-config`` of ``nctw:top/item/value`` outside
  0..100 (``invalid-value``, with an ``error-path``); ``edit-config`` of
  ``running`` (``operation-failed``: no :writable-running);
  ``delete-config`` of ``running`` (``unknown-element``); ``unlock`` of an
  unlocked datastore (``operation-failed``); ``kill-session`` of one's own
  or an unknown session id (``invalid-value``).
* ``kill_netconfd()``: the sessions' SSH channels close (ncclient raises
  ``SessionCloseError``/``TransportError``); sshd itself stays up.  Plain
  ncclient has a race there: an RPC sent just after the close was seen but
  before ``connected`` turned False is queued and times out instead.
* ncclient's ``kill_session`` wants the session id as a ``str``.
* netconfd does not remove its socket file when it dies and will not start
  while it exists: :meth:`NetconfdServer.restart` removes it first.

Usage::

    server = NetconfdServer()
    server.start()
    try:
        with ncclient.manager.connect(**server.connect_kwargs()) as m:
            m.get_config("running")
    finally:
        server.stop()
"""

from __future__ import annotations

import atexit
import errno
import getpass
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import weakref
from typing import Any, Dict, Iterable, List, Optional, Sequence

NETCONFD = "/usr/sbin/netconfd"
SSHD = "/usr/sbin/sshd"
NETCONF_SUBSYSTEM = "/usr/sbin/netconf-subsystem"

#: How long to wait for sshd / netconfd to come up.
STARTUP_TIMEOUT = 15.0
#: How long to wait for a process to exit after SIGTERM before SIGKILL.
STOP_TIMEOUT = 5.0
POLL_INTERVAL = 0.02
#: sshd port picking is racy (bind to port 0, close, hand to sshd): retries.
SSHD_START_ATTEMPTS = 3

#: Set to 1 to keep the temporary directory (logs) after stop().
KEEP_DIR_ENV = "NCCLIENT_TWISTED_KEEP_NETCONFD_DIR"

TEST_MODULE = "nctw-test"
TEST_NS = "urn:ncclient-twisted:test"
TEST_MODULE_YANG = """\
module nctw-test {
  yang-version 1;
  namespace "urn:ncclient-twisted:test";
  prefix nctw;

  description
    "Configuration-only module for ncclient_twisted's integration tests.
     netconfd loads it without SIL code, so edits have no side effects.";

  revision 2024-01-01 {
    description "Initial revision.";
  }

  container top {
    leaf name {
      type string;
    }
    leaf count {
      type uint32;
    }
    leaf-list tag {
      type string;
    }
    list item {
      key "id";
      leaf id {
        type string;
      }
      leaf value {
        type int32 {
          range "0..100";
        }
      }
      leaf note {
        type string;
      }
    }
  }
}
"""

_VERBOSE_LOG_LEVELS = ("info", "dev1", "debug", "debug2", "debug3", "debug4")

_live_servers: "weakref.WeakSet[NetconfdServer]" = weakref.WeakSet()


def netconfd_available() -> bool:
    """Whether netconfd, sshd and netconf-subsystem are installed."""
    return all(os.path.exists(p) for p in (NETCONFD, SSHD, NETCONF_SUBSYSTEM))


class NetconfdStartupError(RuntimeError):
    """netconfd or sshd did not come up; the message has the log tails."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tail(path: Optional[str], lines: int = 40) -> str:
    if not path:
        return ""
    try:
        with open(path, "r", errors="replace") as f:
            data = f.read().splitlines()
    except FileNotFoundError:
        return ""
    except OSError as e:
        return "--- %s: unreadable (%s)\n" % (path, e)
    return "--- %s (last %d lines):\n%s\n" % (
        path, min(lines, len(data)), "\n".join(data[-lines:]))


def _read(path: str) -> str:
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _pid_alive(pid: int) -> bool:
    """True if *pid* exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not os.path.isdir("/proc")  # no /proc: trust kill(0)
    state = data[data.rindex(")") + 2:].split()[0]
    return state not in ("Z", "X")


def _descendants(pid: int) -> List[int]:
    """All descendants of *pid* (via /proc), deepest first."""
    children: Dict[int, List[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
            ppid = int(data[data.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    found: List[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, ()):
            found.append(c)
            todo.append(c)
    found.reverse()
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_pids_gone(pids: Iterable[int], timeout: float) -> List[int]:
    """Wait until none of *pids* is alive; return the ones still alive."""
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [p for p in pending if _pid_alive(p)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    return pending


def _stop_popen(proc: Optional[subprocess.Popen], sig: int = signal.SIGTERM,
                timeout: float = STOP_TIMEOUT) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass  # unkillable (D state); nothing more we can do


def _ncclient_key_needs_password() -> bool:
    """ncclient 0.6.x encodes ``password`` to open ``key_filename``: None fails there (plain
    ncclient in these tests; ncclient_twisted.manager passes "" itself)."""
    import ncclient

    major, minor = (int(x) for x in ncclient.__version__.split(".")[:2])
    return (major, minor) < (0, 7)


_NCCLIENT_KEY_NEEDS_PASSWORD = _ncclient_key_needs_password()


class NetconfdServer:
    """A private netconfd + sshd pair on 127.0.0.1 (see the module doc).

    Attributes (valid after :meth:`start`): ``host``, ``port`` (sshd),
    ``username``, ``key_filename`` (client private key), ``known_hosts``
    (``[127.0.0.1]:PORT`` entry), ``hostkey_b64``, ``hostkey_type``,
    ``ssh_config`` (an ssh_config whose UserKnownHostsFile is
    ``known_hosts``, for ``connect(ssh_config=..., hostkey_verify=True)``),
    ``tmpdir``, ``sockname``, ``netconfd_log``, ``sshd_log``.
    """

    host = "127.0.0.1"

    def __init__(self, username: Optional[str] = None, log_level: str = "info",
                 extra_netconfd_args: Sequence[str] = (),
                 startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.username = username or getpass.getuser()
        self.log_level = log_level
        self.extra_netconfd_args = list(extra_netconfd_args)
        self.startup_timeout = startup_timeout
        self.port: Optional[int] = None
        self.tmpdir: Optional[str] = None
        self.key_filename: Optional[str] = None
        self.known_hosts: Optional[str] = None
        self.ssh_config: Optional[str] = None
        self.hostkey_b64: Optional[str] = None
        self.hostkey_type: Optional[str] = None
        self.sockname: Optional[str] = None
        self.netconfd_log: Optional[str] = None
        self.netconfd_out: Optional[str] = None
        self.sshd_log: Optional[str] = None
        self.sshd_config: Optional[str] = None
        self._sshd: Optional[subprocess.Popen] = None
        self._netconfd: Optional[subprocess.Popen] = None

    # -- public API ---------------------------------------------------

    def connect_kwargs(self, **extra: Any) -> dict:
        """Keyword arguments for ``ncclient.manager.connect(**kw)``; *extra* is added as is."""
        self._check_started()
        kwargs = dict(host=self.host, port=self.port, username=self.username,
                      key_filename=self.key_filename, hostkey_verify=False,
                      allow_agent=False, look_for_keys=False)
        if _NCCLIENT_KEY_NEEDS_PASSWORD:
            kwargs["password"] = ""  # the key has no passphrase
        kwargs.update(extra)
        return kwargs

    @property
    def netconfd_pid(self) -> Optional[int]:
        return self._netconfd.pid if self._netconfd else None

    @property
    def sshd_pid(self) -> Optional[int]:
        return self._sshd.pid if self._sshd else None

    def netconfd_running(self) -> bool:
        return self._netconfd is not None and self._netconfd.poll() is None

    def sshd_running(self) -> bool:
        return self._sshd is not None and self._sshd.poll() is None

    def start(self) -> "NetconfdServer":
        if self.tmpdir is not None:
            raise RuntimeError("NetconfdServer already started")
        if not netconfd_available():
            raise NetconfdStartupError(
                "netconfd/sshd/netconf-subsystem not installed (run "
                ".ci/install-system-packages)")
        _live_servers.add(self)
        try:
            self._prepare_dir()
            self._start_sshd()
            self._start_netconfd()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop netconfd, sshd and everything sshd spawned; remove tmpdir.

        Idempotent, bounded in time (a few times STOP_TIMEOUT at worst).
        """
        _live_servers.discard(self)
        sshd, netconfd = self._sshd, self._netconfd
        # Per-connection sshd processes and their netconf-subsystem children
        # call setsid(), so they are found by parentage, not process group.
        descendants = _descendants(sshd.pid) if sshd is not None else []
        if netconfd is not None:
            descendants += _descendants(netconfd.pid)
        # Stopping netconfd first makes every netconf-subsystem exit, and
        # with it its per-connection sshd, each reaped by its own parent
        # (signalling them all at once leaves orphaned zombies behind).
        # SIGKILL: netconfd takes ~1 s to act on SIGTERM, and it has no
        # state worth a clean shutdown here.
        _stop_popen(netconfd, signal.SIGKILL)
        leftovers = _wait_pids_gone(descendants, STOP_TIMEOUT / 2)
        for pid in leftovers:  # deepest first
            _signal(pid, signal.SIGTERM)
        for pid in _wait_pids_gone(leftovers, STOP_TIMEOUT):
            _signal(pid, signal.SIGKILL)
        _stop_popen(sshd)
        self._sshd = self._netconfd = None
        if self.tmpdir is not None:
            if os.environ.get(KEEP_DIR_ENV) == "1":
                print("netconfd test server files kept in", self.tmpdir)
            else:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def kill_netconfd(self) -> None:
        """SIGKILL netconfd (a crash in mid-request); sshd stays up.

        Open NETCONF sessions see their SSH channel closed; new SSH
        connections are accepted but the netconf subsystem fails.
        """
        self._check_started()
        _stop_popen(self._netconfd, signal.SIGKILL)

    def restart(self) -> None:
        """Restart netconfd (running or not) with an empty configuration.

        sshd keeps running on the same port (it is restarted on that port
        if it died), so clients reconnect with the same connect_kwargs().
        """
        self._check_started()
        _stop_popen(self._netconfd, signal.SIGKILL)
        self._netconfd = None
        if not self.sshd_running():
            _stop_popen(self._sshd)
            self._sshd = None
            if not self._try_start_sshd(self.port):
                raise NetconfdStartupError(
                    "could not restart sshd on port %d\n%s"
                    % (self.port, self._logs()))
        self._start_netconfd()

    def __enter__(self) -> "NetconfdServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "<NetconfdServer %s:%s user=%s dir=%s>" % (
            self.host, self.port, self.username, self.tmpdir)

    # -- command lines --------------------------------------------------

    def netconfd_command(self) -> List[str]:
        d = self.tmpdir
        assert d is not None and self.port is not None
        return [
            NETCONFD,
            "--config=%s" % os.path.join(d, "netconfd.conf"),  # empty file
            "--no-startup",
            "--superuser=%s" % self.username,
            "--port=%d" % self.port,
            "--ncxserver-sockname=%s" % self.sockname,
            "--log=%s" % self.netconfd_log,
            "--log-level=%s" % self.log_level,
            "--home=%s" % os.path.join(d, "home"),
            "--yuma-home=%s" % os.path.join(d, "yuma"),
            "--target=candidate",
            "--with-startup=true",
            "--with-validate=true",
            "--with-url=false",
            "--module=%s" % TEST_MODULE,
        ] + self.extra_netconfd_args

    def sshd_command(self) -> List[str]:
        return [SSHD, "-D", "-f", self.sshd_config, "-E", self.sshd_log]

    # -- internals ------------------------------------------------------

    def _check_started(self) -> None:
        if self.tmpdir is None:
            raise RuntimeError("NetconfdServer not started")

    def _logs(self) -> str:
        return "".join(_tail(p) for p in (self.netconfd_log, self.netconfd_out,
                                          self.sshd_log))

    def _prepare_dir(self) -> None:
        d = tempfile.mkdtemp(prefix="nctw-ncd-")
        # AF_UNIX paths are limited to 108 bytes.
        if len(os.path.join(d, "ncxserver.sock")) > 100:
            shutil.rmtree(d, ignore_errors=True)
            d = tempfile.mkdtemp(prefix="nctw-ncd-", dir="/tmp")
        self.tmpdir = d
        for sub in ("home", "yuma", os.path.join("yuma", "data"),
                    os.path.join("yuma", "modules")):
            os.mkdir(os.path.join(d, sub))
        with open(os.path.join(d, "yuma", "modules", TEST_MODULE + ".yang"),
                  "w") as f:
            f.write(TEST_MODULE_YANG)
        # An explicit (empty) --config keeps /etc/yuma/netconfd.conf out.
        open(os.path.join(d, "netconfd.conf"), "w").close()
        self.sockname = os.path.join(d, "ncxserver.sock")
        self.netconfd_log = os.path.join(d, "netconfd.log")
        self.netconfd_out = os.path.join(d, "netconfd.out")
        self.sshd_log = os.path.join(d, "sshd.log")
        self.sshd_config = os.path.join(d, "sshd_config")
        self.known_hosts = os.path.join(d, "known_hosts")
        self.ssh_config = os.path.join(d, "ssh_config")

        keygen = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
        host_key = os.path.join(d, "ssh_host_ed25519_key")
        self.key_filename = os.path.join(d, "client_ed25519_key")
        for path, comment in ((host_key, "nctw-test-host"),
                              (self.key_filename, "nctw-test-client")):
            try:
                subprocess.run(
                    [keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment,
                     "-f", path],
                    check=True, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    timeout=STARTUP_TIMEOUT)
            except (OSError, subprocess.SubprocessError) as e:
                out = getattr(e, "output", b"") or b""
                raise NetconfdStartupError(
                    "ssh-keygen failed: %s\n%s"
                    % (e, out.decode(errors="replace"))) from e
        self.hostkey_type, self.hostkey_b64 = _read(
            host_key + ".pub").split()[:2]
        shutil.copyfile(self.key_filename + ".pub",
                        os.path.join(d, "authorized_keys"))
        self._host_key = host_key

        # sshd refuses to start as root without its privsep directory.
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    def _write_port_files(self, port: int) -> None:
        d = self.tmpdir
        assert d is not None
        config = "\n".join([
            "Port %d" % port,
            "ListenAddress %s" % self.host,
            "HostKey %s" % self._host_key,
            "PidFile %s" % os.path.join(d, "sshd.pid"),
            "AuthorizedKeysFile %s" % os.path.join(d, "authorized_keys"),
            "AuthenticationMethods publickey",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            "UseDNS no",
            "PrintMotd no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "PermitTTY no",
            "LoginGraceTime 60",
            "MaxStartups 1000:30:1000",
            "MaxSessions 1000",
            "MaxAuthTries 10",
            "LogLevel INFO",
            # sshd starts the subsystem through root's shell; without SHLVL, bash sources
            # ~/.bashrc for each session (on this machine: pyenv init, ~100 ms a session).
            "SetEnv SHLVL=9",
            "Subsystem netconf %s --ncxserver-sockname=%d@%s"
            % (NETCONF_SUBSYSTEM, port, self.sockname),
            "",
        ])
        with open(self.sshd_config, "w") as f:
            f.write(config)
        with open(self.known_hosts, "w") as f:
            f.write("[%s]:%d %s %s\n" % (self.host, port, self.hostkey_type,
                                         self.hostkey_b64))
        with open(self.ssh_config, "w") as f:
            f.write("Host %s\n    UserKnownHostsFile %s\n"
                    % (self.host, self.known_hosts))

    def _start_sshd(self) -> None:
        for _ in range(SSHD_START_ATTEMPTS):
            if self._try_start_sshd(_free_port(self.host)):
                return
        raise NetconfdStartupError(
            "sshd did not start after %d attempts\n%s"
            % (SSHD_START_ATTEMPTS, self._logs()))

    def _try_start_sshd(self, port: int) -> bool:
        """Start sshd on *port*; False if the port was taken (retryable)."""
        self._write_port_files(port)
        sshd_out = os.path.join(self.tmpdir, "sshd.out")
        # Only look at what this sshd writes (the log files are appended to).
        log_start, out_start = len(_read(self.sshd_log)), len(_read(sshd_out))
        with open(sshd_out, "ab") as out:
            self._sshd = subprocess.Popen(
                self.sshd_command(), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd=self.tmpdir,
                start_new_session=True)
        self.port = port
        listening = "Server listening on %s port %d" % (self.host, port)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._sshd.poll() is not None:
                rc = self._sshd.returncode
                self._sshd = None
                log = (_read(self.sshd_log)[log_start:]
                       + _read(sshd_out)[out_start:])
                if "Address already in use" in log or "Cannot bind" in log:
                    return False
                raise NetconfdStartupError(
                    "sshd exited with status %s during startup\n%s%s"
                    % (rc, self._logs(), _tail(sshd_out)))
            # The log line rules out a foreign listener that grabbed the
            # port; the connect proves sshd accepts connections.
            if (listening in _read(self.sshd_log)[log_start:]
                    and self._tcp_ok(port)):
                return True
            if time.monotonic() >= deadline:
                _stop_popen(self._sshd, signal.SIGKILL)
                self._sshd = None
                raise NetconfdStartupError(
                    "sshd not listening on %s:%d after %.0f s\n%s"
                    % (self.host, port, self.startup_timeout, self._logs()))
            time.sleep(POLL_INTERVAL)

    def _tcp_ok(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1.0):
                return True
        except OSError:
            return False

    def _start_netconfd(self) -> None:
        assert self.sockname is not None and self.tmpdir is not None
        # netconfd does not remove its socket when it dies, and refuses to
        # start (EADDRINUSE) while the file exists.
        try:
            os.unlink(self.sockname)
        except FileNotFoundError:
            pass
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("YUMA_")}
        env["HOME"] = os.path.join(self.tmpdir, "home")
        with open(self.netconfd_out, "ab") as out:
            self._netconfd = subprocess.Popen(
                self.netconfd_command(), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, cwd=self.tmpdir,
                env=env, start_new_session=True)
        need_log_line = self.log_level in _VERBOSE_LOG_LEVELS
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._netconfd.poll() is not None:
                rc = self._netconfd.returncode
                self._netconfd = None
                raise NetconfdStartupError(
                    "netconfd exited with status %s during startup\n%s"
                    % (rc, self._logs()))
            if self._is_socket(self.sockname) and (
                    not need_log_line
                    or "Running netconfd server" in _read(self.netconfd_log)):
                return
            if time.monotonic() >= deadline:
                _stop_popen(self._netconfd, signal.SIGKILL)
                self._netconfd = None
                raise NetconfdStartupError(
                    "netconfd socket %s not ready after %.0f s\n%s"
                    % (self.sockname, self.startup_timeout, self._logs()))
            time.sleep(POLL_INTERVAL)

    @staticmethod
    def _is_socket(path: str) -> bool:
        try:
            return stat.S_ISSOCK(os.stat(path).st_mode)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                return False
            raise


@atexit.register
def _stop_leftover_servers() -> None:
    for server in list(_live_servers):
        try:
            server.stop()
        except Exception:
            pass
