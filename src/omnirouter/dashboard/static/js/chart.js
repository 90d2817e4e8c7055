// Time-series charts with uPlot (static/vendor, MIT): one chart per metric family.
import uPlot from '../vendor/uPlot.esm.js';

const COLORS = ['#2456c7', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a'];

// series: [{label, values, color?}] over xs (Unix seconds).
export function lineChart(container, title, xs, series, format) {
  const box = document.createElement('div');
  box.className = 'chart';
  const heading = document.createElement('h3');
  heading.textContent = title;
  box.append(heading);
  container.append(box);
  const width = Math.max(320, box.clientWidth - 16);
  const opts = {
    width,
    height: 220,
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color || COLORS[i % COLORS.length],
        width: 2,
        spanGaps: false,
        value: (u, v) => (v === null || v === undefined ? '—' : format ? format(v) : v),
      })),
    ],
    axes: [{}, { size: 90, values: (u, ticks) => ticks.map((v) => (format ? format(v) : v)) }],
    scales: { x: { time: true } },
    legend: { live: true },
  };
  const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], box);
  box.dataset.points = String(xs.length);
  box.dataset.total = String(series.reduce((sum, s) => sum + s.values.reduce((a, v) => a + (v || 0), 0), 0));
  return plot;
}
