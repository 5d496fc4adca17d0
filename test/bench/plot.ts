// A small SVG line chart, written by hand (no plotting dependency): panels side by side, each with
// its own y axis, series of points with an optional spread bar (p10–p90). Used by run.ts (boot and
// stop time against the number of services) and soak.ts (init's RSS, fds, CPU, zombies over time).

export interface Point {
  x: number;
  y: number;
  lo?: number;
  hi?: number;
}
export interface Series {
  name: string;
  points: Point[];
}
export interface Panel {
  title: string;
  yLabel: string;
  xLabel: string;
  series: Series[];
  /** Evenly spaced x positions labelled with the values (1, 10, 50) instead of a linear axis. */
  categorical?: boolean;
}

const COLORS: Record<string, string> = { keel: "#d62728", runit: "#1f77b4", s6: "#2ca02c", tini: "#9467bd", "dumb-init": "#8c564b" };
const PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A "nice" upper bound and tick step for values up to MAX. */
function ticks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(+v.toPrecision(12));
  return out;
}
const label = (v: number) => (Math.abs(v) >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(4)}`);

export function lineChart(title: string, panels: Panel[], o: { panelWidth?: number; height?: number; subtitle?: string } = {}): string {
  const pw = o.panelWidth ?? 360;
  const ph = o.height ?? 260;
  const m = { l: 58, r: 16, t: 56, b: 46 };
  const width = panels.length * pw;
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const color = (n: string) => COLORS[n] ?? PALETTE[names.indexOf(n) % PALETTE.length]!;
  const legendH = 22;
  const height = ph + legendH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  if (o.subtitle) out.push(`<text x="${width / 2}" y="33" text-anchor="middle" fill="#555">${esc(o.subtitle)}</text>`);
  panels.forEach((p, i) => {
    const x0 = i * pw + m.l;
    const x1 = (i + 1) * pw - m.r;
    const y0 = ph - m.b;
    const y1 = m.t;
    const xs = [...new Set(p.series.flatMap((s) => s.points.map((q) => q.x)))].sort((a, b) => a - b);
    const ymax = Math.max(0, ...p.series.flatMap((s) => s.points.map((q) => Math.max(q.y, q.hi ?? q.y)).filter(Number.isFinite)));
    const yt = ticks(ymax);
    const ytop = yt[yt.length - 1]!;
    const sy = (v: number) => y0 - ((y0 - y1) * v) / ytop;
    let sx: (v: number) => number;
    let xt: number[];
    if (p.categorical) {
      sx = (v) => x0 + ((x1 - x0) * (xs.indexOf(v) + 0.5)) / xs.length;
      xt = xs;
    } else {
      const xmin = xs[0] ?? 0;
      const xmax = xs[xs.length - 1] ?? 1;
      sx = (v) => x0 + ((x1 - x0) * (v - xmin)) / (xmax - xmin || 1);
      xt = ticks(xmax - xmin).map((t) => t + xmin).filter((t) => t <= xmax);
    }
    out.push(`<text x="${(x0 + x1) / 2}" y="${y1 - 10}" text-anchor="middle" font-size="12" font-weight="bold">${esc(p.title)}</text>`);
    for (const t of yt) out.push(`<line x1="${x0}" x2="${x1}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/><text x="${x0 - 5}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`);
    for (const t of xt) out.push(`<text x="${sx(t).toFixed(1)}" y="${y0 + 15}" text-anchor="middle">${label(t)}</text>`);
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}" stroke="#333"/><line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#333"/>`);
    out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 32}" text-anchor="middle">${esc(p.xLabel)}</text>`);
    out.push(`<text transform="translate(${x0 - 44},${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
    for (const s of p.series) {
      const pts = s.points.filter((q) => Number.isFinite(q.y));
      const c = color(s.name);
      if (pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((q) => `${sx(q.x).toFixed(1)},${sy(q.y).toFixed(1)}`).join(" ")}"/>`);
      if (pts.length <= 60)
        for (const q of pts) {
          if (q.lo !== undefined && q.hi !== undefined) out.push(`<line x1="${sx(q.x).toFixed(1)}" x2="${sx(q.x).toFixed(1)}" y1="${sy(q.lo).toFixed(1)}" y2="${sy(q.hi).toFixed(1)}" stroke="${c}" stroke-width="1.5"/>`);
          out.push(`<circle cx="${sx(q.x).toFixed(1)}" cy="${sy(q.y).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.name}: ${label(q.y)}`)}</title></circle>`);
        }
    }
  });
  let lx = 20;
  for (const n of names) {
    out.push(`<rect x="${lx}" y="${ph + 4}" width="14" height="4" fill="${color(n)}"/><text x="${lx + 18}" y="${ph + 10}">${esc(n)}</text>`);
    lx += 30 + n.length * 7;
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
