import { useEffect, useRef, useState } from 'react';
import { Text } from '@mantine/core';
import uPlot from 'uplot';
import type { ChartData } from './types';

/** The performance mark set, and the window event sent, when the first chart of a page
 * has been drawn. */
export const CHART_DRAWN = 'fitsync:first-chart-drawn';

const PALETTE = ['#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#c2255c', '#5c940d'];

let drawable: boolean | undefined;
/** Whether this browser gives a canvas a 2D context (not with canvas blocked, nor in jsdom). */
function canDraw(): boolean {
  return (drawable ??= !!document.createElement('canvas').getContext('2d'));
}

/** The uPlot canvas. */
export default function UPlotCanvas({ data, unit, height = 240 }: { data: ChartData; unit?: string; height?: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const [blocked, setBlocked] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (!canDraw()) {
      setBlocked(true);
      return;
    }
    const width = Math.max(240, el.clientWidth || 320);
    const opts: uPlot.Options = {
      width,
      height,
      scales: { x: { time: true } },
      // x values are calendar days at UTC midnight: label them as such in every zone.
      tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      legend: { show: true },
      // The first chart drawn on a page: what the browser benchmark measures
      // (e2e/perf.spec.ts, docs/benchmarks.md).
      hooks: {
        draw: [
          () => {
            if (performance.getEntriesByName(CHART_DRAWN).length > 0) return;
            performance.mark(CHART_DRAWN);
            window.dispatchEvent(new Event(CHART_DRAWN));
          },
        ],
      },
      axes: [
        {},
        {
          values: (_u, vals) => vals.map((v) => (v == null ? '' : `${+v.toFixed(1)}${unit ? ` ${unit}` : ''}`)),
          size: 70,
        },
      ],
      series: [
        {},
        ...data.series.map((s, i) => {
          const stroke = s.color ?? PALETTE[i % PALETTE.length] ?? '#1c7ed6';
          return {
            label: s.label,
            stroke,
            width: 2,
            paths: s.pointsOnly ? () => null : undefined,
            dash: s.dashed ? [6, 4] : undefined,
            spanGaps: true,
            points: { show: s.pointsOnly ? true : data.xs.length < 40, size: s.pointsOnly ? 5 : 4, stroke, fill: stroke },
            value: (_u: uPlot, v: number | null) => (v == null ? '–' : `${v.toFixed(1)}${unit ? ` ${unit}` : ''}`),
          } satisfies uPlot.Series;
        }),
      ],
    };
    const aligned = [data.xs, ...data.series.map((s) => s.values)] as uPlot.AlignedData;
    const plot = new uPlot(opts, aligned, el);
    const ro =
      typeof ResizeObserver !== 'undefined'
        ? new ResizeObserver(() => {
            const w = el.clientWidth;
            if (w > 0) plot.setSize({ width: w, height });
          })
        : null;
    ro?.observe(el);
    return () => {
      ro?.disconnect();
      plot.destroy();
    };
  }, [data, unit, height]);
  if (blocked) return <Text size="sm" c="dimmed">This browser cannot draw the chart; use “Show as table”.</Text>;
  return <div ref={ref} style={{ width: '100%', overflow: 'hidden' }} />;
}
