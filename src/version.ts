// `keel --version`'s text, apart from keel.ts so the answer loads nothing else.
declare const KEEL_VERSION: string | undefined;
declare const KEEL_COMMIT: string | undefined;

export function version(): string {
  const v = typeof KEEL_VERSION === "string" ? KEEL_VERSION : require("../package.json").version;
  const c = typeof KEEL_COMMIT === "string" ? KEEL_COMMIT : "dev";
  return `keel ${v} (${c})`;
}
