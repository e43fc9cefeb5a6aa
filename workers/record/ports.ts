import dgram from 'node:dgram';

/** Four consecutive UDP ports: RTP and RTCP for video, then for audio. */
export interface PortBlock {
  video: { rtpPort: number; rtcpPort: number };
  audio: { rtpPort: number; rtcpPort: number };
  ports: number[];
}

/** Whether something on this host has bound UDP `port` (any address). */
export function udpPortInUse(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(true);
      else reject(err);
    });
    socket.bind(port, '0.0.0.0', () => socket.close(() => resolve(false)));
  });
}

/**
 * Finds four free consecutive UDP ports in [min, max] for one recorder run, starting at a
 * random even port so that concurrent recorders rarely collide. The ports are free when
 * checked; the recorder binds them right after (a lost race shows up as ffmpeg failing to
 * bind, and the run is simply retried).
 */
export async function allocatePortBlock(min: number, max: number, attempts = 50): Promise<PortBlock> {
  const first = min % 2 === 0 ? min : min + 1;
  const slots = Math.floor((max - first + 1) / 4);
  if (slots < 1) throw new Error(`recording port range ${min}-${max} is too small`);
  for (let i = 0; i < attempts; i++) {
    const base = first + 4 * Math.floor(Math.random() * slots);
    const ports = [base, base + 1, base + 2, base + 3];
    const busy = await Promise.all(ports.map(udpPortInUse));
    if (busy.some(Boolean)) continue;
    return {
      video: { rtpPort: base, rtcpPort: base + 1 },
      audio: { rtpPort: base + 2, rtcpPort: base + 3 },
      ports,
    };
  }
  throw new Error(`no free UDP ports for recording in ${min}-${max}`);
}

/** Waits until every port is bound by someone (the recorder we just started). */
export async function waitUntilBound(ports: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const bound = await Promise.all(ports.map(udpPortInUse));
    if (bound.every(Boolean)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
