export interface ChartSeries {
  label: string;
  /** One value per x (null: no value there). */
  values: (number | null)[];
  color?: string;
  /** Points only, no line (raw measurements). */
  pointsOnly?: boolean;
  dashed?: boolean;
}

export interface ChartData {
  /** Unix seconds, ascending. */
  xs: number[];
  /** How each x reads in the table (a date, usually). */
  xLabels: string[];
  series: ChartSeries[];
}
