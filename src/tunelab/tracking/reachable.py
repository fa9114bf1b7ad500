"""Is the store there? Asked in seconds, before MLflow's own client tries: MLflow retries an
unreachable server with back-off for about four minutes, and retries a SQLite file it cannot
create for about two, before it says "unable to open database file". No MLflow import here."""

import os
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 5.0


class StoreProblem(Exception):
    """The store cannot be used; the message says why, in words."""


def sqlite_database(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI, None for any other store."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def store_problem(uri: str, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """Why the store at `uri` cannot be used (a folder that does not exist or cannot be
    written, a server that refuses or does not answer), or None when it looks usable."""
    if (database := sqlite_database(uri)) is not None:
        return _sqlite_problem(database)
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme in ("http", "https"):
        return _server_problem(uri, timeout)
    if is_database_url(uri):
        return database_problem(uri, timeout)
    return None  # other stores: MLflow's own message


# Database URLs (SQLAlchemy's, as MLflow and Optuna take them) and their servers' usual ports.
DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}


def is_database_url(uri: str) -> bool:
    """postgresql://..., mysql+pymysql://...: a database server's SQLAlchemy URL."""
    return _dialect(uri) in DATABASE_PORTS


def _dialect(uri: str) -> str:
    """postgresql+psycopg://... -> postgresql"""
    return urllib.parse.urlparse(uri).scheme.split("+")[0]


def database_problem(uri: str, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """Why the database server of a SQLAlchemy URL (postgresql://user@host:port/db) cannot be
    reached, or None. Only the connection: no driver is imported (a login refused is the
    driver's message, which it gives at once)."""
    parsed = urllib.parse.urlparse(uri)
    if not parsed.hostname:  # a local socket
        return None
    port = parsed.port or DATABASE_PORTS[_dialect(uri)]
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()
    except ConnectionRefusedError:
        return f"connection refused: no database server listens at {parsed.hostname}:{port}"
    except socket.gaierror:
        return f"host {parsed.hostname} not found"
    except TimeoutError:
        return f"no answer from {parsed.hostname}:{port} within {timeout:g} s"
    except OSError as error:
        return f"cannot reach {parsed.hostname}:{port}: {error.strerror or error}"
    return None


def _sqlite_problem(database: Path) -> str | None:
    folder = database.parent
    if not folder.is_dir():
        return (
            f"{folder} is not a folder"
            if folder.exists()
            else f"the folder {folder} does not exist"
        )
    if database.exists():
        return None if os.access(database, os.W_OK) else f"{database} is read-only"
    try:  # os.access says yes to root everywhere; creating a file tells
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        return f"cannot create the store in {folder}: {(error.strerror or str(error)).lower()}"
    return None


def _server_problem(uri: str, timeout: float) -> str | None:
    parsed = urllib.parse.urlparse(uri)
    host = parsed.hostname or ""
    address = f"{host}:{parsed.port}" if parsed.port else host
    health = urllib.parse.urlunparse(
        (parsed.scheme, address, parsed.path.rstrip("/") + "/health", "", "", "")
    )
    try:
        urllib.request.urlopen(health, timeout=timeout).close()
    except urllib.error.HTTPError:
        return None  # it answered (an auth proxy, an older server): MLflow takes it from here
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, ConnectionRefusedError):
            return f"connection refused: nothing listens at {address}"
        if isinstance(reason, socket.gaierror):
            return f"host {host} not found"
        if isinstance(reason, TimeoutError | socket.timeout):
            return f"no answer from {address} within {timeout:g} s"
        return f"cannot reach {address}: {reason}"
    except (TimeoutError, OSError) as error:
        return f"no answer from {address} within {timeout:g} s ({type(error).__name__})"
    return None
