import http from 'node:http';
import { createWorker, type types as ms } from 'mediasoup';
import { Server } from 'socket.io';
import { serveParent } from '../lib/child.ts';

/**
 * The raw-mediasoup server of the time-to-first-frame benchmark, in its own process like the
 * Spyglass server it is compared with: one mediasoup worker and router (Opus, VP8), a
 * WebRtcTransport per client on 127.0.0.1 (UDP), and the smallest socket.io signalling that
 * mediasoup-client needs — the mediasoup demo's flow, nothing of Spyglass. Serves the bundled
 * page (BENCH_RAW_PAGE_JS) at `/`.
 *
 * Requests (socket.io, acked with { ok, data | error }): rtpCapabilities, createTransport,
 * connectTransport, produce, consume (a paused consumer per producer), resume. A client's
 * transports close when its socket disconnects.
 */

export interface RawReady {
  url: string;
  workerPid: number;
}

const pageJs = process.env.BENCH_RAW_PAGE_JS;
if (!pageJs) throw new Error('BENCH_RAW_PAGE_JS is not set');
const pageSource = await import('node:fs').then((fs) => fs.readFileSync(pageJs, 'utf8'));

const worker = await createWorker({ logLevel: 'warn' });
const router = await worker.createRouter({
  mediaCodecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
    // The same start bitrate as Spyglass's router offers, so both broadcasters ramp alike.
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  ],
});
const producers = new Map<string, ms.Producer>();

const server = http.createServer((req, res) => {
  if (req.url === '/bench.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(pageSource);
  } else if (req.url === '/' || req.url?.startsWith('/?')) {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>raw</title><body><script src="/bench.js"></script></body>');
  } else {
    res.writeHead(404).end();
  }
});
const ioServer = new Server(server, { transports: ['websocket'] });

type Handler = (payload: Record<string, unknown>, transports: Map<string, ms.WebRtcTransport>) => Promise<unknown>;

const handlers: Record<string, Handler> = {
  rtpCapabilities: async () => router.rtpCapabilities,
  createTransport: async (_p, transports) => {
    const t = await router.createWebRtcTransport({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
      initialAvailableOutgoingBitrate: 1_000_000,
    });
    transports.set(t.id, t);
    return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  },
  connectTransport: async (p, transports) => {
    await transportOf(transports, p).connect({ dtlsParameters: p.dtlsParameters as ms.DtlsParameters });
    return null;
  },
  produce: async (p, transports) => {
    const producer = await transportOf(transports, p).produce({ kind: p.kind as ms.MediaKind, rtpParameters: p.rtpParameters as ms.RtpParameters });
    producers.set(producer.id, producer);
    producer.observer.once('close', () => producers.delete(producer.id));
    return { id: producer.id };
  },
  consume: async (p, transports) => {
    const transport = transportOf(transports, p);
    const rtpCapabilities = p.rtpCapabilities as ms.RtpCapabilities;
    const out = [];
    for (const producer of producers.values()) {
      if (!router.canConsume({ producerId: producer.id, rtpCapabilities })) continue;
      const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused: true });
      out.push({ id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters });
    }
    return out;
  },
  resume: async (p, transports) => {
    for (const t of transports.values()) {
      for (const c of consumersOf.get(t.id) ?? []) if (c.id === p.consumerId) await c.resume();
    }
    return null;
  },
};

// Consumers by transport, for `resume` (a transport's consumers are not listed by mediasoup).
const consumersOf = new Map<string, ms.Consumer[]>();
router.observer.on('newtransport', (t) => {
  t.observer.on('newconsumer', (c) => {
    consumersOf.set(t.id, [...(consumersOf.get(t.id) ?? []), c]);
  });
  t.observer.once('close', () => consumersOf.delete(t.id));
});

function transportOf(transports: Map<string, ms.WebRtcTransport>, p: Record<string, unknown>): ms.WebRtcTransport {
  const t = transports.get(String(p.transportId));
  if (!t) throw new Error('unknown transport');
  return t;
}

ioServer.on('connection', (socket) => {
  const transports = new Map<string, ms.WebRtcTransport>();
  for (const [event, handle] of Object.entries(handlers)) {
    socket.on(event, (payload: Record<string, unknown> | undefined, ack: (r: unknown) => void) => {
      handle(payload ?? {}, transports).then(
        (data) => ack({ ok: true, data }),
        (error: unknown) => ack({ ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
    });
  }
  socket.on('disconnect', () => {
    for (const t of transports.values()) t.close();
    transports.clear();
  });
});

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('no address');

process.on('SIGTERM', () => {
  void ioServer.close();
  worker.close();
  process.exit(0);
});

serveParent({ url: `http://127.0.0.1:${address.port}`, workerPid: worker.pid } satisfies RawReady, async (body) => {
  const req = body as { type?: unknown };
  if (req.type === 'producers') return producers.size;
  return null;
});
