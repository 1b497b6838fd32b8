/** A horizontal bar chart of req/s per target, as plain SVG text (no library, no script). */
export interface Bar {
  label: string;
  value: number;
  /** text after the bar, e.g. "12.2k req/s · p99 5.9 ms" */
  note: string;
  /** baselines and the gateway get different colours */
  group: 'baseline' | 'gateway';
}

const COLORS = { baseline: '#8c9bab', gateway: '#2f6fde' } as const;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function barChart(title: string, subtitle: string, bars: Bar[]): string {
  const width = 960;
  const labelWidth = 230;
  const noteWidth = 320;
  const rowHeight = 30;
  const top = 62;
  const plotWidth = width - labelWidth - noteWidth - 20;
  const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const height = top + bars.length * rowHeight + 20;
  const rows = bars.map((bar, i) => {
    const y = top + i * rowHeight;
    const w = Number.isFinite(bar.value) ? Math.max(1, (bar.value / max) * plotWidth) : 0;
    return [
      `  <text x="${labelWidth - 10}" y="${y + 19}" text-anchor="end">${escapeXml(bar.label)}</text>`,
      `  <rect x="${labelWidth}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowHeight - 10}" fill="${COLORS[bar.group]}"/>`,
      `  <text x="${(labelWidth + w + 8).toFixed(1)}" y="${y + 19}">${escapeXml(bar.note)}</text>`,
    ].join('\n');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">
  <rect width="${width}" height="${height}" fill="#ffffff"/>
  <text x="16" y="24" font-size="16" font-weight="bold">${escapeXml(title)}</text>
  <text x="16" y="44" fill="#555555">${escapeXml(subtitle)}</text>
${rows.join('\n')}
</svg>
`;
}
