export type Unit = 'kg' | 'lb';

/** The international avoirdupois pound is exactly 0.45359237 kg. */
export const KG_PER_LB = 0.45359237;

export function kgToLb(kg: number): number {
  return kg / KG_PER_LB;
}

export function lbToKg(lb: number): number {
  return lb * KG_PER_LB;
}

/** A stored kilogram value in the reader's unit. */
export function fromKg(kg: number, unit: Unit): number {
  return unit === 'lb' ? kgToLb(kg) : kg;
}

/** A value entered in `unit`, in kilograms. */
export function toKg(value: number, unit: Unit): number {
  return unit === 'lb' ? lbToKg(value) : value;
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** "82.3 kg" / "181.5 lb". */
export function formatLoad(kg: number, unit: Unit, digits = 1): string {
  return `${round(fromKg(kg, unit), digits).toFixed(digits)} ${unit}`;
}
