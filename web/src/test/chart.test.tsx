import { describe, expect, it } from 'vitest';
import { screen, within, fireEvent } from '@testing-library/react';
import { renderUi } from './render';
import { ChartCard } from '../components/charts/ChartCard';
import { alignSeries } from '../components/ProgressDashboard';

describe('chart table view', () => {
  const data = alignSeries([
    {
      label: 'e1RM',
      points: [
        { start: '2026-10-05', value: 69.66666666666666 },
        { start: '2026-10-12', value: 72.83333333333333 },
        { start: '2026-11-30', value: 99.16666666666667 },
      ],
    },
  ]);

  it('renders the same points in a table', () => {
    renderUi(<ChartCard id="e1rm" title="e1RM" ariaLabel="Estimated 1RM per week" data={data} unit="kg" initialView="table" />);
    const table = screen.getByTestId('chart-table-e1rm');
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(4); // header + 3 points
    expect(rows[1]).toHaveTextContent('69.7');
    expect(rows[2]).toHaveTextContent('72.8');
    expect(rows[3]).toHaveTextContent('99.2');
    expect(within(table).getByText('e1RM (kg)')).toBeInTheDocument();
  });

  it('has an accessible name and toggles between chart and table', () => {
    renderUi(<ChartCard id="e1rm" title="e1RM" ariaLabel="Estimated 1RM per week" data={data} unit="kg" initialView="table" />);
    fireEvent.click(screen.getByLabelText('Show as table'));
    const chart = screen.getByTestId('chart-e1rm');
    expect(chart).toHaveAttribute('role', 'img');
    expect(chart).toHaveAttribute('aria-label', 'Estimated 1RM per week');
    expect(screen.queryByTestId('chart-table-e1rm')).toBeNull();
  });

  it('aligns series with gaps on shared dates', () => {
    const d = alignSeries([
      { label: 'a', points: [{ start: '2026-01-02', value: 1 }] },
      { label: 'b', points: [{ start: '2026-01-01', value: 2 }, { start: '2026-01-02', value: 3 }] },
    ]);
    expect(d.xs).toEqual([Date.UTC(2026, 0, 1) / 1000, Date.UTC(2026, 0, 2) / 1000]);
    expect(d.series[0]!.values).toEqual([null, 1]);
    expect(d.series[1]!.values).toEqual([2, 3]);
  });
});
