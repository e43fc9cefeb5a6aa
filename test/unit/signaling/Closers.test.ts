import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Closers } from '../../../signaling/Closers.ts';

describe('Closers', () => {
  it('closes in reverse order of opening, once, and goes on past a closer that throws', async () => {
    const lines: string[] = [];
    const logged: unknown[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const closers = new Closers(logger);
    closers.push('database', () => lines.push('database'));
    closers.push('workers', async () => {
      await Promise.resolve();
      lines.push('workers');
    });
    closers.push('broken', () => {
      throw new Error('boom');
    });
    closers.push('sockets', () => lines.push('sockets'));
    await Promise.all([closers.closeAll(), closers.closeAll()]);
    await closers.closeAll();
    expect(lines).toEqual(['sockets', 'workers', 'database']);
    expect(logged).toEqual([expect.objectContaining({ closing: 'broken', msg: 'could not close cleanly' })]);
  });

  it('refuses to open anything once closing began', async () => {
    const closers = new Closers(pino({ level: 'silent' }));
    await closers.closeAll();
    expect(() => closers.push('late', () => undefined)).toThrow('already closing');
  });
});
