// A small hand-written SVG bar chart (no charting dependency): per scenario, a bar per service
// with its events/s and a line under the group for the ratio that scenario is judged by.

export type BarKind = "relay" | "forwarder" | "limit";

export interface BarGroup {
  title: string;
  bars: Array<{ kind: BarKind; value: number }>;
  /** The ratio or verdict line under the group. */
  note?: string;
}

const COLORS: Record<BarKind, string> = { relay: "#2563eb", forwarder: "#9ca3af", limit: "#fbbf24" };
const LEGEND: Record<BarKind, string> = { relay: "relay", forwarder: "bare forwarder", limit: "Svix rate limit" };

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((s) => s * magnitude >= value)!;
  return step * magnitude;
}

export function barChartSvg(title: string, subtitle: string, groups: readonly BarGroup[]): string {
  const barWidth = 34;
  const groupWidth = 200;
  const left = 60;
  const top = 70;
  const plotHeight = 240;
  const width = Math.max(620, left + groups.length * groupWidth + 40);
  const height = top + plotHeight + 90;
  const max = niceMax(Math.max(...groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)))));
  const y = (v: number) => top + plotHeight - (Math.max(0, v) / max) * plotHeight;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<text x="${left}" y="44" fill="#555">${escapeXml(subtitle)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    out.push(`<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Math.round(v)}</text>`);
  }
  out.push(
    `<text x="14" y="${top + plotHeight / 2}" transform="rotate(-90 14 ${top + plotHeight / 2})" text-anchor="middle" fill="#555">events/s</text>`,
  );
  groups.forEach((group, gi) => {
    const gx = left + gi * groupWidth + 20;
    group.bars.forEach((bar, bi) => {
      const x = gx + bi * (barWidth + 8);
      const value = Number.isFinite(bar.value) ? bar.value : 0;
      out.push(
        `<rect x="${x}" y="${y(value)}" width="${barWidth}" height="${top + plotHeight - y(value)}" fill="${COLORS[bar.kind]}"><title>${LEGEND[bar.kind]}: ${value.toFixed(1)}</title></rect>`,
      );
      out.push(
        `<text x="${x + barWidth / 2}" y="${y(value) - 4}" text-anchor="middle">${Number.isFinite(bar.value) ? Math.round(bar.value) : "–"}</text>`,
      );
    });
    out.push(`<text x="${gx}" y="${top + plotHeight + 18}" font-weight="bold">${escapeXml(group.title)}</text>`);
    if (group.note)
      out.push(`<text x="${gx}" y="${top + plotHeight + 34}" fill="#333">${escapeXml(group.note)}</text>`);
  });
  const kinds = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.kind)))];
  kinds.forEach((kind, i) => {
    const x = left + i * 150;
    out.push(`<rect x="${x}" y="${height - 24}" width="12" height="12" fill="${COLORS[kind]}"/>`);
    out.push(`<text x="${x + 18}" y="${height - 14}">${LEGEND[kind]}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
