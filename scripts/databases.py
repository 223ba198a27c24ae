"""The benchmarks' own PostgreSQL database, created when it is missing (a fresh machine has none)."""

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg


def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"the benchmarks need PostgreSQL: DATABASE_URL is {url}")
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"DATABASE_URL must name a database of letters, digits and _: {url}")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(maintenance, autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL does not answer at {maintenance}: {exc}") from None
