/**
 * Hand-written SVG charts for benchmark results: small line/scatter panels laid out in a grid,
 * no dependencies. Good enough for a README; not a plotting library.
 */

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** 'line' (default) joins the points; 'dots' draws them only. */
  style?: 'line' | 'dots';
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Log-2 x axis (e.g. viewer steps 50, 100, 200 …). */
  xLog2?: boolean;
  /** Horizontal reference lines, e.g. a target or a threshold. */
  hLines?: Array<{ y: number; label: string }>;
  /** Force the y range to include 0 (default true). */
  yFromZero?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const PANEL_W = 420;
const PANEL_H = 280;
const M = { left: 62, right: 16, top: 30, bottom: 64 };

/** A complete SVG document: a title line, then the panels in rows of `columns`. */
export function chartDocument(title: string, subtitle: string, panels: Panel[], columns = 2): string {
  const rows = Math.ceil(panels.length / columns);
  const width = PANEL_W * Math.min(columns, panels.length);
  const height = 54 + PANEL_H * rows;
  const body = panels
    .map((p, i) => `<g transform="translate(${(i % columns) * PANEL_W},${54 + Math.floor(i / columns) * PANEL_H})">${panel(p)}</g>`)
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="40" fill="#555">${esc(subtitle)}</text>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}

function panel(p: Panel): string {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const all = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x: number) => (p.xLog2 ? Math.log2(Math.max(x, 1e-9)) : x);
  const xs = all.map(([x]) => tx(x));
  const ys = [...all.map(([, y]) => y), ...(p.hLines ?? []).map((l) => l.y)];
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (p.yFromZero !== false) y0 = Math.min(0, y0);
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) y1 = y0 + 1;
  const yTicks = niceTicks(y0, y1, 5);
  y0 = Math.min(y0, yTicks[0]!);
  y1 = Math.max(y1, yTicks[yTicks.length - 1]!);
  const padX = (x1 - x0) * 0.04;
  x0 -= padX;
  x1 += padX;
  const sx = (x: number) => M.left + ((tx(x) - x0) / (x1 - x0)) * w;
  const sy = (y: number) => M.top + h - ((y - y0) / (y1 - y0)) * h;
  const out: string[] = [];
  out.push(`<text x="${M.left}" y="18" font-weight="bold" font-size="12">${esc(p.title)}</text>`);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (const t of yTicks) {
    out.push(`<line x1="${M.left}" x2="${M.left + w}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 4}" y="${f(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  const xTickValues = p.xLog2 ? [...new Set(all.map(([x]) => x))].sort((a, b) => a - b) : niceTicks(x0 + padX, x1 - padX, 6);
  for (const t of xTickValues) {
    out.push(`<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${M.top + h}" y2="${M.top + h + 4}" stroke="#999"/>`);
    out.push(`<text x="${f(sx(t))}" y="${M.top + h + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<text x="${M.left + w / 2}" y="${M.top + h + 32}" text-anchor="middle" fill="#333">${esc(p.xLabel)}</text>`);
  out.push(
    `<text transform="translate(14,${M.top + h / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(p.yLabel)}</text>`,
  );
  for (const l of p.hLines ?? []) {
    out.push(`<line x1="${M.left}" x2="${M.left + w}" y1="${f(sy(l.y))}" y2="${f(sy(l.y))}" stroke="#888" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${M.left + w - 4}" y="${f(sy(l.y) - 4)}" text-anchor="end" fill="#666">${esc(l.label)}</text>`);
  }
  p.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (s.style !== 'dots' && pts.length > 1) {
      const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${f(sx(x))},${f(sy(y))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    // Points as zero-length round-capped segments of one path: small files with many points.
    // A long line is drawn without its points.
    if (pts.length > 0 && (s.style === 'dots' || pts.length <= 60)) {
      const d = pts.map(([x, y]) => `M${f(sx(x))},${f(sy(y))}h0`).join('');
      out.push(`<path d="${d}" stroke="${color}" stroke-width="${s.style === 'dots' ? 3.6 : 6}" stroke-linecap="round" fill="none"/>`);
    }
    // Legend under the x label.
    const lx = M.left + i * 130;
    const ly = M.top + h + 50;
    out.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="10" fill="${color}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly + 1}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let t = start; t <= hi + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  if (ticks[ticks.length - 1]! < hi) ticks.push(ticks[ticks.length - 1]! + step);
  return ticks;
}

function f(n: number): string {
  return n.toFixed(1);
}

function fmt(n: number): string {
  if (n !== 0 && Math.abs(n) < 0.01) return n.toExponential(0);
  if (Math.abs(n) >= 10_000) return `${Math.round(n / 1000)}k`;
  return String(Math.round(n * 100) / 100);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
