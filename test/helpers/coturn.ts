import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { HostProcess } from '../../scripts/cluster/HostProcess.ts';
import { waitForPort } from '../../scripts/cluster/LocalCluster.ts';

const run = promisify(execFile);

export interface CoturnOptions {
  /** The address it listens on and relays from. */
  address: string;
  /** Plain TURN, UDP and TCP (coturn accepts TLS on it too). */
  port: number;
  /** TURN over TLS (and plain TCP), with a self-signed certificate made for the run; none: no TLS. */
  tlsPort?: number;
  /** `static-auth-secret`: the nodes' `turn.secret`. */
  secret: string;
  realm: string;
  /** The UDP ports of relayed addresses. */
  relayPorts: [number, number];
  /** The only peers it relays to (the nodes' media addresses); every other address is denied. */
  allowedPeers: string[];
  /** Starts the server (default: on this machine), e.g. a host's `HostNetwork.spawn`. */
  spawn?: (argv: string[], options: SpawnOptions) => ChildProcess;
}

/**
 * A real coturn (`turnserver`, Debian's package; `scripts/setup.sh --test` installs it and
 * leaves its system service off) for a test: a turnserver.conf of its own in a temporary
 * directory, as in docs/operations.md's recipe — TURN REST API credentials
 * (`use-auth-secret`), relaying only to the allowed peers. `stop()` kills it and removes the
 * directory.
 */
export class Coturn {
  readonly options: CoturnOptions;
  readonly process: HostProcess;
  readonly #dir: string;

  private constructor(options: CoturnOptions, process: HostProcess, dir: string) {
    this.options = options;
    this.process = process;
    this.#dir = dir;
  }

  static async start(o: CoturnOptions): Promise<Coturn> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-coturn-'));
    let coturn: Coturn | undefined;
    try {
      const tls = o.tlsPort === undefined ? undefined : await selfSignedCertificate(dir);
      const conf = path.join(dir, 'turnserver.conf');
      writeFileSync(conf, configText(o, dir, tls), { mode: 0o600 });
      const argv = ['turnserver', '-c', conf];
      const options: SpawnOptions = { stdio: ['ignore', 'ignore', 'pipe'] };
      const child = o.spawn ? o.spawn(argv, options) : spawn(argv[0]!, argv.slice(1), options);
      coturn = new Coturn(o, new HostProcess('coturn', 'turn', child), dir);
      const exited = coturn.process.exited.then((code) => {
        throw new Error(`turnserver exited (${code}) while starting:\n${coturn?.process.output().slice(-3000)}`);
      });
      exited.catch(() => undefined);
      await Promise.race([waitForPort(o.address, o.tlsPort ?? o.port, 10_000), exited]);
      return coturn;
    } catch (err) {
      if (coturn) await coturn.stop();
      else rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** What it logged so far (sessions, allocations, refusals); its stdout is buffered, its log file is not. */
  log(): string {
    try {
      return readFileSync(path.join(this.#dir, 'turnserver.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    await this.process.stop(5000);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function configText(o: CoturnOptions, dir: string, tls: { cert: string; key: string } | undefined): string {
  return [
    `listening-ip=${o.address}`,
    `relay-ip=${o.address}`,
    `listening-port=${o.port}`,
    ...(tls ? [`tls-listening-port=${o.tlsPort}`, `cert=${tls.cert}`, `pkey=${tls.key}`] : ['no-tls', 'no-dtls']),
    'use-auth-secret',
    `static-auth-secret=${o.secret}`,
    `realm=${o.realm}`,
    'fingerprint',
    `min-port=${o.relayPorts[0]}`,
    `max-port=${o.relayPorts[1]}`,
    // Relay to the media nodes only: deny everything, then allow them (allowed-peer-ip wins).
    'no-multicast-peers',
    'denied-peer-ip=0.0.0.0-255.255.255.255',
    'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ...o.allowedPeers.map((p) => `allowed-peer-ip=${p}`),
    'no-cli',
    'no-software-attribute',
    `userdb=${path.join(dir, 'turndb')}`,
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    `log-file=${path.join(dir, 'turnserver.log')}`,
    'simple-log',
    // Sessions and every TURN request (not the relayed packets), so that a test can see them.
    'verbose',
    '',
  ].join('\n');
}

async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=turn.spyglass.test', '-days', '1', '-keyout', key, '-out', cert];
  await run('openssl', args);
  return { cert, key };
}
