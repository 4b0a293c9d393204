// A small dependency-free SVG line chart: one or more series over a numeric x axis (time or index).

export interface Series {
  name: string;
  points: readonly { x: number; y: number }[];
  color: string;
}

export function LineChart({
  series,
  height = 200,
  formatX = (x) => String(x),
  formatY = (y) => String(y),
  title,
  step = false,
}: {
  series: readonly Series[];
  height?: number;
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
  title: string;
  /** Draw as a step function (cumulative amounts change at events). */
  step?: boolean;
}) {
  const width = 960;
  const pad = { l: 64, r: 12, t: 12, b: 28 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return <p className="muted">No data yet for “{title}”.</p>;
  let [x0, x1] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  const y1raw = Math.max(...all.map((p) => p.y), 0);
  const y0 = Math.min(0, ...all.map((p) => p.y));
  const y1 = y1raw === y0 ? y0 + 1 : y1raw;
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  const sx = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const sy = (y: number) => height - pad.b - ((y - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  const path = (pts: readonly { x: number; y: number }[]) => {
    const sorted = [...pts].sort((a, b) => a.x - b.x);
    return sorted
      .map((p, i) => {
        const prev = sorted[i - 1];
        const stepPart = step && prev ? `L${sx(p.x).toFixed(1)},${sy(prev.y).toFixed(1)} ` : "";
        return `${i === 0 ? "M" : `${stepPart}L`}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`;
      })
      .join(" ");
  };
  const ticks = [0, 0.5, 1].map((f) => y0 + f * (y1 - y0));
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={pad.l} x2={width - pad.r} y1={sy(t)} y2={sy(t)} className="chart-grid" />
            <text x={pad.l - 6} y={sy(t) + 4} textAnchor="end" className="chart-label">
              {formatY(t)}
            </text>
          </g>
        ))}
        <text x={pad.l} y={height - 8} className="chart-label">
          {formatX(x0)}
        </text>
        <text x={width - pad.r} y={height - 8} textAnchor="end" className="chart-label">
          {formatX(x1)}
        </text>
        {series.map((s) => (
          <g key={s.name}>
            <path d={path(s.points)} fill="none" stroke={s.color} strokeWidth={2} />
            {s.points.map((p, i) => (
              <circle key={i} cx={sx(p.x)} cy={sy(p.y)} r={2.5} fill={s.color} />
            ))}
          </g>
        ))}
      </svg>
      <figcaption>
        {title}
        {series.length > 1 &&
          series.map((s) => (
            <span key={s.name} className="legend">
              <i style={{ background: s.color }} /> {s.name}
            </span>
          ))}
      </figcaption>
    </figure>
  );
}
