// The real Caddy (Debian's package) with the project's deploy/Caddyfile in front of a
// hush-server, on loopback, with `tls internal` (a private CA, as a public domain's
// certificate cannot be had here), and HTTPS requests to it from a chosen local address.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { stopProcess } from './harness.mjs';

const ROOT = path.resolve(import.meta.dirname, '../../..');
export const CADDYFILE = path.join(ROOT, 'deploy/Caddyfile');

/** Starts Caddy on `port` (127.0.0.1) proxying to hush-server on `upstreamPort`. */
export async function startCaddy(port, upstreamPort, httpPort) {
  execFileSync('caddy', ['version']); // a clear error if Caddy is missing
  const home = mkdtempSync(path.join(os.tmpdir(), 'hush-caddy-'));
  const env = {
    ...process.env,
    CADDY_SITE: `https://localhost:${port}`,
    CADDY_UPSTREAM: `127.0.0.1:${upstreamPort}`,
    CADDY_TLS: 'tls internal',
    CADDY_ADMIN: 'off',
    CADDY_BIND: '127.0.0.1',
    CADDY_HTTP_PORT: String(httpPort),
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CONFIG_HOME: path.join(home, 'config'),
  };
  const child = spawn('caddy', ['run', '--config', CADDYFILE, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  readline.createInterface({ input: child.stderr }).on('line', (l) => log.push(l));
  const rootCert = path.join(home, 'data/caddy/pki/authorities/local/root.crt');
  const caddy = {
    origin: `https://localhost:${port}`,
    log,
    /** An HTTPS request through Caddy from local address `from` (127.0.0.0/8). */
    request(method, pathname, { from = '127.0.0.1', body, headers = {} } = {}) {
      return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = https.request({
          host: '127.0.0.1', servername: 'localhost', port, method, path: pathname, localAddress: from,
          ca: readFileSync(rootCert),
          headers: { host: `localhost:${port}`, ...(data ? { 'content-type': 'application/json' } : {}), ...headers },
        }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end(data);
      });
    },
    stop: () => stopProcess(child, home),
  };
  // Ready once its private CA exists and it answers over TLS.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode}:\n${log.join('\n')}`);
    if (existsSync(rootCert)) {
      try {
        await caddy.request('GET', '/healthz');
        return caddy;
      } catch { /* not listening yet */ }
    }
    if (i > 200) throw new Error(`caddy did not start:\n${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
