import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundStats, launchChromium, selectedCandidatePairs, trackPeerConnections } from '../../testkit/browser.ts';
import { Coturn } from '../helpers/coturn.ts';
import { decodingSteadily, Hosts, NODE_PORT } from '../helpers/hosts.ts';
import { goLiveInPage, signUpInPage, waitUntilSending } from '../../testkit/liveUi.ts';

/** The node's WebRtcServer port (SPYGLASS_MEDIA_PORT's default): where browsers send media. */
const MEDIA_PORT = 40000;

/**
 * A viewer behind a hostile firewall watches through a real coturn. Hosts in network namespaces
 * (scripts/cluster): node `a`; `t`, a coturn configured as in docs/operations.md (TURN REST API
 * secret, UDP/TCP 3478 and TLS 443, relaying to the node only); `v`, the viewer's Chromium,
 * whose firewall lets out nothing but TCP to the node's web port (HTTP, socket.io) and TCP
 * to the TURN server's port 443. The broadcaster's Chromium is on the machine and reaches the
 * node directly. The node hands both the TURN URLs and credentials with their transports.
 */
describe('a viewer whose network allows only TCP 443 to a TURN server', () => {
  const secret = randomBytes(24).toString('hex');
  let hosts: Hosts;
  let coturn: Coturn | undefined;
  let viewerBrowser: Browser | undefined;
  let broadcaster: Page;
  let viewer: Page;

  beforeAll(async () => {
    hosts = await Hosts.start({
      name: 'tu',
      nodes: ['a'],
      hosts: ['t', 'v'],
      routes: [['a']],
      env: (network) => ({
        SPYGLASS_TURN_URLS: `turn:${network.address('t')}:3478?transport=udp,turns:${network.address('t')}:443?transport=tcp`,
        SPYGLASS_TURN_SECRET: secret,
      }),
    });
    const network = hosts.cluster.network;
    coturn = await Coturn.start({
      address: network.address('t'),
      port: 3478,
      tlsPort: 443,
      secret,
      realm: 'turn.spyglass.test',
      relayPorts: [49160, 49260],
      allowedPeers: [network.address('a')],
      spawn: (argv, options) => network.spawn('t', argv, options),
    });
    await network.restrictOutgoing('v', [
      { address: network.address('a'), protocol: 'tcp', port: NODE_PORT },
      { address: network.address('t'), protocol: 'tcp', port: 443 },
    ]);
    // The test's TURN certificate is self-signed; Chromium checks a TURN server's certificate like a web server's.
    viewerBrowser = await launchChromium({ namespace: network.namespace('v'), args: ['--ignore-certificate-errors'] });
  }, 180_000);
  afterAll(async () => {
    await viewerBrowser?.close();
    await coturn?.stop();
    await hosts?.stop();
  }, 60_000);

  it('lets the viewer host reach the node’s web port and TURN over TCP 443, and not the node’s media port', async () => {
    const network = hosts.cluster.network;
    expect(await network.tcpReachable('v', network.address('a'), NODE_PORT)).toBe(true);
    expect(await network.tcpReachable('v', network.address('t'), 443)).toBe(true);
    expect(await network.tcpReachable('v', network.address('a'), MEDIA_PORT)).toBe(false);
    expect(await network.tcpReachable('v', network.address('t'), 3478)).toBe(false);
  });

  it('relays the viewer’s media through coturn over TLS, while the broadcaster keeps its direct path', async () => {
    const network = hosts.cluster.network;
    broadcaster = await hosts.page(0);
    await signUpInPage(broadcaster, 'behind_no_wall');
    const id = await goLiveInPage(broadcaster, 'Through the firewall');
    await waitUntilSending(broadcaster);

    viewer = await (await viewerBrowser!.newContext({ baseURL: hosts.cluster.node('a').url })).newPage();
    await trackPeerConnections(viewer);
    await viewer.goto(`/watch/${id}`);
    await decodingSteadily(viewer);
    expect((await inboundStats(viewer)).frameWidth).toBeGreaterThan(0);
    await expect.poll(async () => (await inboundStats(viewer)).audioPackets, { timeout: 10_000 }).toBeGreaterThan(10);

    // The viewer's pair: its relay candidate on coturn (allocated over TLS) to the node's media port.
    const [pair, ...others] = await selectedCandidatePairs(viewer);
    console.log(`viewer's selected pair: ${JSON.stringify(pair)}`);
    expect(others).toEqual([]);
    expect(pair!.local).toMatchObject({ candidateType: 'relay', address: network.address('t'), relayProtocol: 'tls' });
    expect(pair!.remote).toMatchObject({ address: network.address('a'), port: MEDIA_PORT });
    // The page's peer connection got the node's TURN servers with credentials (and may use any path:
    // the firewall, not a relay-only policy, leaves it the relay); coturn allocated for exactly them.
    const [config] = await viewer.evaluate(() =>
      (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.filter((pc) => pc.connectionState !== 'closed').map((pc) => pc.getConfiguration()),
    );
    expect(config!.iceTransportPolicy).toBe('all');
    const username = String(config!.iceServers?.[0]?.username);
    expect(username).toMatch(/^\d+:[A-Za-z0-9_-]{16}$/);
    expect(coturn!.log()).toContain(`user <${username}>: incoming packet ALLOCATE processed, success`);

    // The broadcaster, who can reach the node, sends to it directly.
    const sending = await selectedCandidatePairs(broadcaster);
    console.log(`broadcaster's selected pair: ${JSON.stringify(sending)}`);
    expect(sending.map((p) => p.local.candidateType)).toEqual(['host']);
    expect(sending[0]!.remote).toMatchObject({ address: network.address('a'), port: MEDIA_PORT });
  });
});
