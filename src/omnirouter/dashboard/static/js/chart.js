// Time-series charts with uPlot (static/vendor, MIT): one chart per metric family.
import uPlot from '../vendor/uPlot.esm.js';

const COLORS = ['#2456c7', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a', '#0b7285', '#e67700', '#5c940d', '#a61e4d',
  '#364fc7', '#087f5b', '#9c36b5', '#f08c00', '#1864ab', '#e8590c', '#2f9e44', '#6741d9', '#c2255c', '#0c8599', '#66a80f'];
export const OTHER_COLOR = '#868e96';

// series: [{label, values, color?}] over xs (Unix seconds). The box keeps what it plots in `chartData`
// ({xs, series: [{label, values, total}]}) for anyone reading the page (and the browser tests).
export function lineChart(container, title, xs, series, format, id) {
  const box = document.createElement('div');
  box.className = 'chart';
  if (id) box.id = id;
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
  const totals = series.map((s) => s.values.reduce((a, v) => a + (v || 0), 0));
  box.dataset.total = String(totals.reduce((a, v) => a + v, 0));
  box.chartData = { xs, series: series.map((s, i) => ({ label: s.label, values: s.values, total: totals[i] })) };
  return plot;
}
