import { Component, useId, useState, type ReactNode } from 'react';
import { Card, Group, Switch, Text, Title } from '@mantine/core';
import type { ChartData } from './types';
// Not lazy: index.html preloads the chart library with the app (vite.config.ts), and a
// lazy boundary would cost the first chart a render of its own.
import UPlotCanvas from './UPlotCanvas';

/** If the canvas cannot be drawn, say so; the table still works. */
class ChartBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  render() {
    return this.state.failed ? <Text size="sm" c="dimmed">The chart could not be drawn; use “Show as table”.</Text> : this.props.children;
  }
}

export interface ChartCardProps {
  /** Used for data-testid `chart-<id>` and `chart-table-<id>`. */
  id: string;
  title: string;
  /** The accessible name of the chart. */
  ariaLabel: string;
  data: ChartData;
  unit?: string;
  initialView?: 'chart' | 'table';
  digits?: number;
  extra?: ReactNode;
}

/** A uPlot chart with an accessible name and a "show as table" toggle with the same numbers. */
export function ChartCard({ id, title, ariaLabel, data, unit, initialView = 'chart', digits = 1, extra }: ChartCardProps) {
  const [table, setTable] = useState(initialView === 'table');
  const headingId = useId();
  const empty = data.xs.length === 0;
  return (
    <Card withBorder padding="md" radius="md" aria-labelledby={headingId} component="section">
      <Group justify="space-between" wrap="wrap" gap="xs" mb="xs">
        <Title order={3} size="h5" id={headingId}>
          {title}
        </Title>
        <Switch
          size="sm"
          label="Show as table"
          checked={table}
          onChange={(e) => setTable(e.currentTarget.checked)}
          data-testid={`chart-toggle-${id}`}
        />
      </Group>
      {extra}
      {empty ? (
        <Text c="dimmed" size="sm" data-testid={`chart-${id}`} role="img" aria-label={`${ariaLabel} (no data yet)`}>
          No data yet.
        </Text>
      ) : table ? (
        <div style={{ overflowX: 'auto', maxHeight: 320 }}>
          <table data-testid={`chart-table-${id}`} className="fs-table">
            <caption className="visually-hidden">{ariaLabel}</caption>
            <thead>
              <tr>
                <th scope="col">Date</th>
                {data.series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                    {unit ? ` (${unit})` : ''}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {data.xs.map((x, i) => (
                <tr key={x}>
                  <th scope="row">{data.xLabels[i]}</th>
                  {data.series.map((s) => {
                    const v = s.values[i];
                    return <td key={s.label}>{v == null ? '–' : v.toFixed(digits)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <div role="img" aria-label={ariaLabel} data-testid={`chart-${id}`}>
          <ChartBoundary>
            <UPlotCanvas data={data} unit={unit} />
          </ChartBoundary>
        </div>
      )}
    </Card>
  );
}
