import { describe, expect, it } from 'vitest';
import { formatLoad, fromKg, kgToLb, lbToKg, toKg } from '../lib/units';

describe('kg ↔ lb', () => {
  it('converts by the definition 1 lb = 0.45359237 kg', () => {
    for (const kg of [0, 1, 20, 60, 82.33333333333333, 100, 142.5, 1000]) {
      expect(kgToLb(kg)).toBeCloseTo(kg / 0.45359237, 10);
      expect(lbToKg(kgToLb(kg))).toBeCloseTo(kg, 10);
    }
    for (const lb of [45, 135, 225, 315, 2204.6]) expect(lbToKg(lb)).toBeCloseTo(lb * 0.45359237, 10);
  });

  it('known values', () => {
    expect(kgToLb(100)).toBeCloseTo(220.462, 3);
    expect(lbToKg(225)).toBeCloseTo(102.058, 3);
  });

  it('reads and enters in the user unit', () => {
    expect(fromKg(60, 'kg')).toBe(60);
    expect(fromKg(60, 'lb')).toBeCloseTo(60 / 0.45359237, 10);
    expect(toKg(135, 'lb')).toBeCloseTo(135 * 0.45359237, 10);
    expect(toKg(135, 'kg')).toBe(135);
  });

  it('formats to 0.1 of the unit', () => {
    expect(formatLoad(82.33333333333333, 'kg')).toBe('82.3 kg');
    expect(formatLoad(100, 'lb')).toBe(`${(Math.round((100 / 0.45359237) * 10) / 10).toFixed(1)} lb`);
    expect(formatLoad(100, 'lb')).toBe('220.5 lb');
  });
});
