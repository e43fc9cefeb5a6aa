import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { isIP } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs a command of iproute2 / nftables; a failure says which command and why. */
async function sh(cmd: string, args: string[], input?: string): Promise<void> {
  try {
    if (input === undefined) {
      await run(cmd, args);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- execFile's error is an Error (its type is built with Omit, which hides that)
      const child = execFile(cmd, args, (err) => (err ? reject(err) : resolve()));
      child.stdin?.end(input);
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`${cmd} ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

async function lines(cmd: string, args: string[]): Promise<string[]> {
  const { stdout } = await run(cmd, args);
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

export interface HostNetworkOptions {
  /** A short name (letters and digits, at most 6), unique on the machine: the namespaces are `<name>-<host>`, the bridge `<name>br`. */
  name: string;
  /** The hosts, in order: short names (letters and digits, at most 8). */
  hosts: string[];
  /** The third octet of the subnet: the bridge is 10.213.<subnet>.1/24, host i is 10.213.<subnet>.(11 + i). */
  subnet: number;
}

/**
 * Several hosts on one machine: one Linux network namespace per host, each with its own
 * address on a bridge in the machine's namespace (which has the bridge's address, .1). The
 * machine reaches every host and every host reaches the machine and each other, as on a LAN.
 * Inside a host, 127.0.0.1 is the host's own loopback: services of the machine are reached
 * on the bridge address.
 *
 * Loss on a link between two hosts is nftables's `numgen random` in each of the two
 * namespaces (this machine's kernel has no `sch_netem`; nftables is in every Debian kernel).
 *
 * Needs root. `close()` kills what was spawned in the hosts and removes the namespaces and
 * the bridge; `create()` first removes what an earlier run of the same name left behind.
 */
export class HostNetwork {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly bridgeAddress: string;
  readonly #subnet: number;
  readonly #children = new Set<ChildProcess>();
  #closed: Promise<void> | undefined;

  private constructor(o: HostNetworkOptions) {
    this.name = o.name;
    this.hosts = o.hosts;
    this.#subnet = o.subnet;
    this.bridgeAddress = `10.213.${o.subnet}.1`;
  }

  static async create(o: HostNetworkOptions): Promise<HostNetwork> {
    if (!/^[a-z][a-z0-9]{0,5}$/.test(o.name)) throw new Error(`network name ${JSON.stringify(o.name)}: 1–6 lowercase letters or digits`);
    if (!Number.isInteger(o.subnet) || o.subnet < 0 || o.subnet > 255) throw new Error(`subnet ${o.subnet}: 0–255`);
    for (const h of o.hosts) if (!/^[a-z][a-z0-9]{0,7}$/.test(h)) throw new Error(`host name ${JSON.stringify(h)}: 1–8 lowercase letters or digits`);
    if (process.getuid?.() !== 0) throw new Error('several hosts on one machine need root (network namespaces, a bridge)');
    await HostNetwork.remove(o.name);
    const net = new HostNetwork(o);
    try {
      await net.#build();
    } catch (err) {
      await net.close();
      throw err;
    }
    return net;
  }

  /** Removes the namespaces and the bridge of network `name`, if any (what a crashed run left). */
  static async remove(name: string): Promise<void> {
    for (const line of await lines('ip', ['netns', 'list'])) {
      const [ns = ''] = line.split(' ');
      if (ns.startsWith(`${name}-`)) {
        await killAllIn(ns);
        await sh('ip', ['netns', 'delete', ns]).catch(() => undefined);
      }
    }
    await sh('ip', ['link', 'delete', `${name}br`]).catch(() => undefined);
  }

  /** The host's address on the bridge. */
  address(host: string): string {
    const i = this.hosts.indexOf(host);
    if (i < 0) throw new Error(`no host ${host} in network ${this.name}`);
    return `10.213.${this.#subnet}.${11 + i}`;
  }

  namespace(host: string): string {
    this.address(host);
    return `${this.name}-${host}`;
  }

  /** Starts `argv` inside `host`'s namespace; killed by `close()` if still running. */
  spawn(host: string, argv: string[], options: SpawnOptions = {}): ChildProcess {
    // `ip netns exec` enters the namespace and execs the command: the child's pid is the command's own.
    const child = spawn('ip', ['netns', 'exec', this.namespace(host), ...argv], options);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Drops `percent` % of the packets between hosts `a` and `b`, each way (0 removes the loss). */
  async setLoss(a: string, b: string, percent: number): Promise<void> {
    if (!(percent >= 0 && percent <= 100)) throw new Error(`loss ${percent} %: 0–100`);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const table = `loss_${to}`;
      const ns = this.namespace(from);
      await sh('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', table]).catch(() => undefined);
      if (percent === 0) continue;
      // numgen random mod 10000 < p·100: the drop probability in hundredths of a percent.
      const rules = `table inet ${table} {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr ${this.address(to)} numgen random mod 10000 < ${Math.round(percent * 100)} drop
  }
}
`;
      await sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], rules);
    }
  }

  /**
   * A firewall on `host` that lets out only new connections (and UDP flows) to `allow`, and
   * what belongs to them (conntrack: established or related); everything else it sends is
   * dropped, its loopback excepted — e.g. a network that allows only TCP 443 to a TURN server.
   */
  async restrictOutgoing(host: string, allow: Array<{ address: string; protocol: 'tcp' | 'udp'; port: number }>): Promise<void> {
    const ns = this.namespace(host);
    for (const a of allow) if (isIP(a.address) !== 4 || !Number.isInteger(a.port)) throw new Error(`restrictOutgoing: ${a.address}:${a.port} is not an IPv4 address and port`);
    const rules = `table inet outgoing {
  chain out {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
${allow.map((a) => `    ip daddr ${a.address} ${a.protocol} dport ${a.port} accept`).join('\n')}
  }
}
`;
    await sh('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'outgoing']).catch(() => undefined);
    await sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], rules);
  }

  /** True when a TCP connection from `host` to `address:port` opens within `timeoutMs`. */
  async tcpReachable(host: string, address: string, port: number, timeoutMs = 2000): Promise<boolean> {
    if (!isIP(address) || !Number.isInteger(port)) throw new Error(`tcpReachable: ${address}:${port} is not an IP address and port`);
    const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    return sh('ip', ['netns', 'exec', this.namespace(host), 'timeout', seconds, 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`]).then(
      () => true,
      () => false,
    );
  }

  /** Kills what was spawned in the hosts, then removes the namespaces and the bridge. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const exits = [...this.#children].map(
        (c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))),
      );
      for (const c of this.#children) c.kill('SIGKILL');
      await Promise.all(exits);
      await HostNetwork.remove(this.name);
    })();
    return this.#closed;
  }

  async #build(): Promise<void> {
    const bridge = `${this.name}br`;
    await sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${this.bridgeAddress}/24`, 'dev', bridge]);
    await sh('ip', ['link', 'set', bridge, 'up']);
    for (const [i, host] of this.hosts.entries()) {
      const ns = this.namespace(host);
      const outside = `${this.name}v${i}`;
      const inside = `${this.name}p${i}`;
      await sh('ip', ['netns', 'add', ns]);
      await sh('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      await sh('ip', ['link', 'set', outside, 'master', bridge, 'up']);
      await sh('ip', ['link', 'set', inside, 'netns', ns]);
      await sh('ip', ['-n', ns, 'link', 'set', inside, 'name', 'eth0']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${this.address(host)}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // The media ports (WebRtcServer 40000 and up, transports 40100–40999) are never handed out
      // as a local port of an outgoing connection: a node's connection to Redis or PostgreSQL
      // once took 40000 before its media worker could listen there (EADDRINUSE).
      await sh('ip', ['netns', 'exec', ns, 'sh', '-c', `echo ${RESERVED_PORTS} > /proc/sys/net/ipv4/ip_local_reserved_ports`]);
    }
  }
}

/** The default media ports of a node (config: mediasoup.webRtcPort, rtcMinPort–rtcMaxPort). */
const RESERVED_PORTS = '40000-40999';

/** Kills every process still in namespace `ns` (a namespace outlives its deletion while one runs). */
async function killAllIn(ns: string): Promise<void> {
  const pids = await lines('ip', ['netns', 'pids', ns]).catch(() => []);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
