import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What a result was measured on, so that figures from different machines are not compared blindly. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  mediasoup: string | null;
  ffmpeg: string | null;
}

export function machineInfo(): MachineInfo {
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    mediasoup: packageVersion('mediasoup'),
    ffmpeg: ffmpegVersion(),
  };
}

function packageVersion(name: string): string | null {
  try {
    const file = path.join(import.meta.dirname, '..', '..', 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

function ffmpegVersion(): string | null {
  try {
    const out = execFileSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
    return /ffmpeg version (\S+)/.exec(out)?.[1] ?? null;
  } catch {
    return null;
  }
}
