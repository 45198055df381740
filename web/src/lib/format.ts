/** "barbell-bench-press-medium-grip" → "Barbell bench press medium grip". */
export function prettySlug(slug: string): string {
  const s = slug.replace(/[-_]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function pct(v: number | null | undefined, digits = 0): string {
  return v == null || Number.isNaN(v) ? '–' : `${v.toFixed(digits)} %`;
}
