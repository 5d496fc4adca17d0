// Seeded random names and values for the store's property tests: every character class a value
// can hold (quotes, backslashes, `$`, newlines, control characters, UTF-8 up to 4 bytes), no NUL.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [..."'\"\\$`\n\t\r!*?~#{}[]()<>|&; =%^-.,:/"];

export function randomChar(r: () => number): string {
  const k = r();
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  if (k < 0.4) return String.fromCharCode(int(0x20, 0x7e));
  if (k < 0.65) return SPECIAL[int(0, SPECIAL.length - 1)]!;
  if (k < 0.75) return String.fromCharCode(k < 0.74 ? int(1, 0x1f) : 0x7f);
  if (k < 0.85) return String.fromCharCode(int(0x80, 0x7ff));
  if (k < 0.95) {
    const c = int(0x800, 0xfffd - 0x800);
    return String.fromCharCode(c >= 0xd800 ? c + 0x800 : c); // no lone surrogates: not Unicode text
  }
  return String.fromCodePoint(int(0x10000, 0x10ffff));
}

export function randomValue(r: () => number, max = 40): string {
  const n = r() < 0.02 ? Math.floor(r() * 5000) : Math.floor(r() * max);
  let s = "";
  for (let i = 0; i < n; i++) s += randomChar(r);
  return r() < 0.1 ? s + "\n".repeat(1 + Math.floor(r() * 3)) : s;
}

const SHELL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
/** A shell name that cannot collide with the shell's own variables (V<i>_...). */
export function randomShellName(r: () => number, i: number): string {
  let s = `V${i}_`;
  const n = Math.floor(r() * 12);
  for (let k = 0; k < n; k++) s += SHELL[Math.floor(r() * SHELL.length)];
  return s;
}

/** Any name a store can hold: no '/', '=' or NUL, not '.' or '..', at most 255 bytes. */
export function randomName(r: () => number, i: number): string {
  let s = "";
  const n = 1 + Math.floor(r() * 20);
  for (let k = 0; k < n; k++) s += randomChar(r);
  s = s.replace(/[/=]/g, "_");
  return `${s}~${i}`;
}
