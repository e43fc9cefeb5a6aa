import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../common/config.ts';
import { crossOriginRefusal, serviceOrigins, type OriginSources } from '../../../signaling/http/originCheck.ts';

const base: OriginSources = { allowedOrigins: [], scheme: 'http', host: '127.0.0.1', port: 8080, interfaceAddresses: () => ['127.0.0.1', '10.1.2.3', 'fe80::1'] };

describe('serviceOrigins', () => {
  it('a loopback bind: its own origin and the loopback aliases, on its port only', () => {
    expect([...serviceOrigins(base)].sort()).toEqual(['http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost:8080']);
    expect([...serviceOrigins({ ...base, host: '::1', scheme: 'https', port: 443 })].sort()).toEqual(['https://127.0.0.1', 'https://[::1]', 'https://localhost']);
  });

  it('a wildcard bind: every interface address and the loopback names', () => {
    expect([...serviceOrigins({ ...base, host: '0.0.0.0' })].sort()).toEqual([
      'http://10.1.2.3:8080',
      'http://127.0.0.1:8080',
      'http://[::1]:8080',
      'http://[fe80::1]:8080',
      'http://localhost:8080',
    ]);
  });

  it('a specific public address: that one only', () => {
    expect([...serviceOrigins({ ...base, host: '203.0.113.10', port: 80 })]).toEqual(['http://203.0.113.10']);
  });

  it('configured origins replace the derived ones (behind a proxy the listen address is not what browsers see)', () => {
    expect([...serviceOrigins({ ...base, publicUrl: 'https://live.example.org/some/path' })]).toEqual(['https://live.example.org']);
    expect([...serviceOrigins({ ...base, allowedOrigins: ['http://127.0.0.1:5173'], publicUrl: 'https://live.example.org:8443' })].sort()).toEqual([
      'http://127.0.0.1:5173',
      'https://live.example.org:8443',
    ]);
  });
});

describe('crossOriginRefusal', () => {
  const allowed = (o: string) => o === 'http://127.0.0.1:8080';
  it('refuses a foreign or opaque Origin, and a cross-/same-site fetch without one', () => {
    for (const origin of ['http://127.0.0.1:8081', 'http://localhost:8080', 'https://127.0.0.1:8080', 'null', 'http://127.0.0.1:8080.evil.example']) {
      expect(crossOriginRefusal({ origin }, allowed), origin).toMatch(/Origin .* is not one of this service's origins/);
    }
    expect(crossOriginRefusal({ 'sec-fetch-site': 'cross-site' }, allowed)).toMatch(/Sec-Fetch-Site: cross-site/);
    expect(crossOriginRefusal({ 'sec-fetch-site': 'same-site' }, allowed)).toMatch(/Sec-Fetch-Site: same-site/);
  });
  it('lets its own origin, same-origin fetches and non-browser clients through', () => {
    expect(crossOriginRefusal({ origin: 'http://127.0.0.1:8080' }, allowed)).toBeUndefined();
    expect(crossOriginRefusal({ 'sec-fetch-site': 'same-origin' }, allowed)).toBeUndefined();
    expect(crossOriginRefusal({ 'sec-fetch-site': 'none' }, allowed)).toBeUndefined();
    expect(crossOriginRefusal({}, allowed)).toBeUndefined();
  });
});

describe('http.allowedOrigins config', () => {
  it('takes a comma-separated SPYGLASS_ALLOWED_ORIGINS and refuses anything but an origin', () => {
    expect(loadConfig({ SPYGLASS_ALLOWED_ORIGINS: 'https://a.example.org, http://127.0.0.1:5173' }).http.allowedOrigins).toEqual(['https://a.example.org', 'http://127.0.0.1:5173']);
    expect(loadConfig({}).http.allowedOrigins).toEqual([]);
    for (const bad of ['a.example.org', 'https://a.example.org/path', 'ftp://a.example.org', '*', 'https://user@a.example.org']) {
      expect(() => loadConfig({ SPYGLASS_ALLOWED_ORIGINS: bad }), bad).toThrow(/http\.allowedOrigins.*must be an origin/);
    }
  });
});
