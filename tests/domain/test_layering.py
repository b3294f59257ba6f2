"""The domain knows nothing of the web or mail frameworks (imports go edges -> domain -> storage)."""

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "service" / "domain"
FORBIDDEN = ("aiohttp", "aiosmtpd", "aiosmtplib", "jinja2", "aiohttp_jinja2", "service.web", "service.smtp")


def test_domain_never_imports_edges_or_frameworks():
    offenders = []
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            for name in names:
                resolved = name.replace("..", "service.", 1) if name.startswith("..") else name
                if any(resolved == f or resolved.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
