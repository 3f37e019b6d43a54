#!/usr/bin/env python3
"""Static checks of the deploy files: Dockerfile, docker-compose.yml, deploy/Caddyfile and
deploy/hush.service. No Docker engine runs on our build machines, so the image is neither
built nor started here (this script says so); what can be checked without it is:

- the compose file parses; every service has a health check and a restart policy, and a
  named volume where it keeps data; Redis runs with AOF; MongoDB is a replica set and hush
  names it; hush is not published to the host, only Caddy is; hush trusts the proxy's
  X-Forwarded-For (and only hush does); every HUSH_* variable set for hush exists in
  `hush-server --help`;
- the Dockerfile's build stage calls scripts/build-web.sh (not a copy of its steps), builds
  the server with the web app embedded, and the final stage runs as a non-root user with
  only the binary and CA certificates;
- the Caddyfile passes `caddy validate` (with the compose file's settings) and keeps
  /metrics off the proxy;
- the systemd unit names the binary, a non-root user and a data directory;
- README documents every HUSH_* variable.

    python3 tests/deploy/check_deploy.py path/to/hush-server
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def check_compose(known):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"hush", "caddy", "mongo", "redis"}, services.keys()
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", f"{name} has no restart policy"
    hush, caddy = services["hush"], services["caddy"]
    env = hush["environment"]
    unknown = [k for k in env if k.startswith("HUSH_") and k not in known]
    assert not unknown, f"docker-compose.yml sets variables hush-server does not know: {unknown}"
    assert "ports" not in hush, "the hush service must not be published to the host (only Caddy is)"
    assert sorted(caddy["ports"]) == ["443:443", "80:80"], caddy["ports"]
    for name, service in services.items():
        published = [p for p in service.get("ports", [])]
        assert name == "caddy" or not published, f"{name} publishes {published}"
    assert env["HUSH_TRUST_FORWARDED_FOR"] == "true", "behind Caddy, hush must read X-Forwarded-For"
    for name, service in services.items():
        if name != "hush":
            assert "HUSH_TRUST_FORWARDED_FOR" not in (service.get("environment") or {}), name
    assert env["HUSH_PUBLIC_ORIGIN"] == caddy["environment"]["CADDY_SITE"], "Caddy serves the public origin"
    assert caddy["environment"]["CADDY_UPSTREAM"] == "hush:8080"
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert env["HUSH_REDIS_URL"].startswith("redis://redis:")
    assert env["HUSH_MONGODB_URI"].startswith("mongodb://mongo:") and "replicaSet=rs0" in env["HUSH_MONGODB_URI"]
    assert "--replSet" in services["mongo"]["command"] and "rs0" in services["mongo"]["command"]
    assert "rs.initiate" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    assert hush["depends_on"]["mongo"]["condition"] == "service_healthy"
    volumes = set(compose["volumes"])
    for name, path in [("hush", "/data"), ("mongo", "/data/db"), ("redis", "/data"), ("caddy", "/data")]:
        assert any(v.endswith(":" + path) and v.split(":")[0] in volumes for v in services[name]["volumes"]), f"{name} lacks a volume at {path}"
    return caddy["environment"], len(services)


def check_dockerfile(known, help_text):
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2, "a build stage and a final stage"
    build, final = stages
    assert "bash scripts/build-web.sh" in build, "the build stage must call scripts/build-web.sh"
    assert "wasm-bindgen" not in build and "wasm-opt" not in build, "do not copy build-web.sh's steps"
    assert "-p hush-server" in build and "--features embed-web" in build and "HUSH_EMBED_WEB_DIR=" in build
    assert final.startswith("scratch"), "the final image holds only the binary and CA certificates"
    copied = re.findall(r"^COPY --from=build (?:--chown=\S+ )?(\S+) (\S+)$", final, re.M)
    assert [src for src, _ in copied] == ["/etc/ssl/certs/ca-certificates.crt", "/hush-server", "/empty-data"], copied
    user = re.search(r"^USER (\d+)(?::\d+)?$", final, re.M)
    assert user and user.group(1) != "0", "the runtime image must not run as root"
    assert "--probe" in final and "--probe" in help_text, "health check flag must exist"
    for var in re.findall(r"(HUSH_[A-Z_]+)=", final):
        assert var in known, f"Dockerfile sets unknown {var}"


def check_caddyfile(caddy_env):
    """`caddy validate` with the compose file's settings and with the defaults."""
    caddyfile = (ROOT / "deploy/Caddyfile").read_text()
    assert re.search(r"@metrics path /metrics /metrics/\*\s+respond @metrics", caddyfile), "/metrics must stay private"
    with tempfile.TemporaryDirectory() as home:
        for env in [{}, {k: v.replace("${HUSH_PUBLIC_ORIGIN:-http://localhost}", "https://chat.example.org") for k, v in caddy_env.items()}]:
            result = subprocess.run(
                ["caddy", "validate", "--config", str(ROOT / "deploy/Caddyfile"), "--adapter", "caddyfile"],
                capture_output=True, text=True, env={**os.environ, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home, **env},
            )
            assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr


def check_systemd_unit(known, help_text):
    unit = (ROOT / "deploy/hush.service").read_text()
    assert "ExecStartPre=/usr/local/bin/hush-server --check-config" in unit and "--check-config" in help_text
    assert re.search(r"^ExecStart=/usr/local/bin/hush-server\b", unit, re.M)
    assert re.search(r"^User=hush$", unit, re.M) and re.search(r"^StateDirectory=hush$", unit, re.M)
    for var in re.findall(r"(HUSH_[A-Z_]+)=", unit):
        assert var in known, f"hush.service sets unknown {var}"


def main():
    binary = sys.argv[1]
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    known = set(re.findall(r"HUSH_[A-Z_]+", help_text))
    caddy_env, services = check_compose(known)
    check_dockerfile(known, help_text)
    check_caddyfile(caddy_env)
    check_systemd_unit(known, help_text)
    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(v for v in known if v not in readme)
    assert not undocumented, f"README does not document {undocumented}"
    print(f"deploy files: compose ({services} services), Dockerfile, Caddyfile (caddy validate) and systemd unit "
          f"consistent with hush-server --help ({len(known)} variables). NOT built or started: no Docker engine "
          f"runs on this machine, so the image build and `docker compose up` are untested here")


if __name__ == "__main__":
    main()
