#!/usr/bin/env python3
"""Static checks of Dockerfile and docker-compose.yml (no Docker engine runs on our build
machines, so neither can be built or started here). Checks that the compose file parses,
that every service has a health check and persistent volume where it keeps data, that
Redis runs with AOF, and that every HUSH_* variable used exists in `hush-server --help`.

    python3 tests/deploy/check_deploy.py path/to/hush-server
"""
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def main():
    binary = sys.argv[1]
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    known = set(re.findall(r"HUSH_[A-Z_]+", help_text))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"hush", "mongo", "redis"}, services.keys()
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    env = services["hush"]["environment"]
    unknown = [k for k in env if k.startswith("HUSH_") and k not in known]
    assert not unknown, f"docker-compose.yml sets variables hush-server does not know: {unknown}"
    assert env["HUSH_REDIS_URL"].startswith("redis://redis:")
    assert env["HUSH_MONGODB_URI"].startswith("mongodb://mongo:")
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    assert services["hush"]["depends_on"]["mongo"]["condition"] == "service_healthy"
    volumes = set(compose["volumes"])
    for name, path in [("hush", "/data"), ("mongo", "/data/db"), ("redis", "/data")]:
        assert any(v.endswith(":" + path) and v.split(":")[0] in volumes for v in services[name]["volumes"]), f"{name} lacks a volume at {path}"

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER hush$", dockerfile, re.M), "the runtime image must not run as root"
    assert "--probe" in dockerfile and "--probe" in help_text, "health check flag must exist"
    assert "-p hush-server" in dockerfile
    for var in re.findall(r"(HUSH_[A-Z_]+)=", dockerfile):
        assert var in known, f"Dockerfile sets unknown {var}"
    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(v for v in known if v not in readme)
    assert not undocumented, f"README does not document {undocumented}"
    print(f"deploy files: compose ({len(services)} services) and Dockerfile consistent with hush-server --help "
          f"({len(known)} variables); not built or started: no Docker engine on this machine")


if __name__ == "__main__":
    main()
