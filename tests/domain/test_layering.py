"""Imports go one way: the edges (web, smtp, the CLI) -> the domain -> storage and mail.

The domain knows nothing of the web or mail frameworks, and uses asyncpg only to name the
types of what it is handed (under TYPE_CHECKING); the edges reach every query through the
domain, never a `storage/*queries.py` module itself.
"""

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service"
DOMAIN = SERVICE / "domain"
EDGES = [SERVICE / "web", SERVICE / "smtp", SERVICE / "__main__.py", SERVICE / "commands.py"]
FRAMEWORKS = ("aiohttp", "aiosmtpd", "aiosmtplib", "jinja2", "aiohttp_jinja2", "service.web", "service.smtp")


def python_files(*roots: Path) -> list[Path]:
    files = []
    for root in roots:
        files.extend([root] if root.is_file() else sorted(root.rglob("*.py")))
    return files


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SERVICE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """Every module `path` imports, resolved to its absolute name, and whether the import
    stands under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    package = module_of(path) if path.name == "__init__.py" else module_of(path).rpartition(".")[0]
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            typing_only.update(id(inner) for child in node.body for inner in ast.walk(child))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in typing_only) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, id(node) in typing_only))
            found += [(f"{module}.{alias.name}", id(node) in typing_only) for alias in node.names]
    return found


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_check_reads_every_module_of_the_domain_and_the_edges():
    domain = python_files(DOMAIN)
    assert {p.parent.name for p in domain} >= {"domain", "suppressions", "inbound", "events"}
    assert len(domain) >= 20 and len(python_files(*EDGES)) >= 15


def test_the_domain_never_imports_edges_or_frameworks():
    offenders = [f"{path.relative_to(SERVICE)}: {name}"
                 for path in python_files(DOMAIN) for name, _typing in imports(path)
                 if any(under(name, framework) for framework in FRAMEWORKS)]
    assert offenders == []


def test_the_domain_names_asyncpg_only_for_type_hints():
    offenders = [f"{path.relative_to(SERVICE)}: {name}"
                 for path in python_files(DOMAIN) for name, typing in imports(path)
                 if under(name, "asyncpg") and not typing]
    assert offenders == []


# What an edge may take from storage: the transaction boundary, the database-unavailable
# errors and the standby's reads. Every query is reached through the domain.
EDGE_STORAGE = ("service.storage.db", "service.storage.standby")


def test_no_edge_reaches_a_query_module_directly():
    offenders = [f"{path.relative_to(SERVICE)}: {name}"
                 for path in python_files(*EDGES) for name, _typing in imports(path)
                 if under(name, "service.storage") and name != "service.storage"
                 and not any(under(name, allowed) for allowed in EDGE_STORAGE)]
    assert offenders == []


SQL_CALLS = {"fetch", "fetchval", "fetchrow", "execute", "executemany", "cursor", "copy_records_to_table"}


def test_no_edge_runs_sql_of_its_own():
    """A statement written at an edge would be a second door to the tables: every query is in storage."""
    offenders = []
    for path in python_files(*EDGES):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS
                    and node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr))):
                offenders.append(f"{path.relative_to(SERVICE)}:{node.lineno}: {node.func.attr}")
    assert offenders == []
