import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { HostNetwork } from '../../scripts/cluster/HostNetwork.ts';
import { HostProcess } from '../../scripts/cluster/HostProcess.ts';

/**
 * Hosts on one machine (scripts/cluster/HostNetwork.ts): the namespaces reach each other and
 * the machine, loss on a link drops about that share of its packets and touches no other
 * link, and everything made is removed.
 */
const name = `hn${randomInt(0, 1000)}`;
const subnet = randomInt(100, 200);
const SENT = 4000;

function node(network: HostNetwork, host: string, code: string): HostProcess {
  return new HostProcess(host, host, network.spawn(host, [process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Host `from` sends SENT datagrams to host `to`, paced; resolves with how many arrived. */
async function delivered(network: HostNetwork, from: string, to: string): Promise<number> {
  const receiver = node(network, to, `
    const s = require('dgram').createSocket('udp4'); let n = 0;
    s.on('message', () => n++);
    s.bind(9999, '${network.address(to)}', () => console.log('ready'));
    process.on('SIGTERM', () => { console.log('received ' + n); process.exit(0); });`);
  await receiver.waitFor(/ready/, 10_000);
  const sender = node(network, from, `
    const s = require('dgram').createSocket('udp4'); let i = 0;
    const burst = () => {
      for (let k = 0; k < 20 && i < ${SENT}; k++, i++) s.send('x', 9999, '${network.address(to)}');
      if (i < ${SENT}) setTimeout(burst, 1); else setTimeout(() => { console.log('sent'); process.exit(0); }, 300);
    };
    burst();`);
  await sender.waitFor(/sent/, 30_000);
  receiver.kill('SIGTERM');
  return Number((await receiver.waitFor(/received (\d+)/, 10_000))[1]);
}

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${name}-`));
}

function bridgeExists(): boolean {
  return execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' }).split('\n').some((l) => l.startsWith(`${name}br `));
}

describe('hosts in network namespaces', () => {
  let network: HostNetwork | undefined;
  afterAll(async () => {
    await network?.close();
    await HostNetwork.remove(name);
  });

  it('refuses names that would not make valid interface names', async () => {
    await expect(HostNetwork.create({ name: 'much-too-long', hosts: ['a'], subnet })).rejects.toThrow(/network name/);
    await expect(HostNetwork.create({ name, hosts: ['A b'], subnet })).rejects.toThrow(/host name/);
    expect(namespaces()).toEqual([]);
  });

  it('gives every host its own address, reachable from the machine and from the other hosts', async () => {
    // A leftover of a crashed run of the same name is removed by create().
    execFileSync('ip', ['netns', 'add', `${name}-stale`]);
    network = await HostNetwork.create({ name, hosts: ['a', 'b', 'c'], subnet });
    expect(namespaces().sort()).toEqual([`${name}-a`, `${name}-b`, `${name}-c`]);
    expect(network.address('b')).toBe(`10.213.${subnet}.12`);

    const server = node(network, 'a', `require('net').createServer((s) => s.end('host a')).listen(7000, '${network.address('a')}', () => console.log('ready'));`);
    await server.waitFor(/ready/, 10_000);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(7000, network!.address('a'));
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(reply).toBe('host a');
    server.kill('SIGKILL');
    await server.exited;

    expect(await delivered(network, 'b', 'c')).toBe(SENT);
  });

  it('drops about the given share of packets on one link, each way, and none on the others', async () => {
    await expect(network!.setLoss('a', 'b', 150)).rejects.toThrow(/loss 150 %: 0–100/);
    await expect(network!.setLoss('a', 'nobody', 5)).rejects.toThrow(/no host nobody/);
    await network!.setLoss('a', 'b', 20);
    const ab = await delivered(network!, 'a', 'b');
    const ba = await delivered(network!, 'b', 'a');
    const ac = await delivered(network!, 'a', 'c');
    // 20 % of 4000: 800 lost, with a standard deviation of about 25.
    for (const got of [ab, ba]) {
      expect(SENT - got).toBeGreaterThan(600);
      expect(SENT - got).toBeLessThan(1000);
    }
    expect(ac).toBe(SENT);
    await network!.setLoss('a', 'b', 0);
    expect(await delivered(network!, 'a', 'b')).toBe(SENT);
  });

  it('removes the namespaces and the bridge on close, with the processes in them', async () => {
    const sleeper = node(network!, 'c', 'setInterval(() => {}, 1000); console.log("ready")');
    await sleeper.waitFor(/ready/, 10_000);
    await network!.close();
    await network!.close();
    expect(sleeper.running).toBe(false);
    expect(namespaces()).toEqual([]);
    expect(bridgeExists()).toBe(false);
  });
});
