// npx bun run build [--only-host | --arch x64|arm64] [--outdir DIR] -> dist/keel-linux-{x64,arm64} + dist/SHA256SUMS
// Flags: build/flags.ts (DESIGN §4).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { arch } from "node:os";
import { join, resolve } from "pathe";
import { COMPILE_FLAGS } from "./flags.ts";

const root = resolve(import.meta.dir, "..");
const outdirAt = process.argv.indexOf("--outdir");
const dist = outdirAt > 0 && process.argv[outdirAt + 1] ? resolve(process.argv[outdirAt + 1]!) : join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
/** git's answer, or undefined where there is no git or no repository (a docker build). */
function git(...args: string[]): string | undefined {
  try {
    const r = Bun.spawnSync(["git", ...args], { cwd: root, stderr: "ignore" });
    return r.success ? r.stdout.toString().trim() : undefined;
  } catch {
    return undefined;
  }
}
const head = git("rev-parse", "--short=12", "HEAD");
// KEEL_COMMIT names the commit where git cannot (the Dockerfile's build stage has no .git).
const commitLabel = head === undefined ? process.env.KEEL_COMMIT || "unknown" : head + (git("status", "--porcelain", "--untracked-files=no") ? "-dirty" : "");

const hostTarget = arch() === "arm64" ? "arm64" : "x64";
const archAt = process.argv.indexOf("--arch");
const arch1 = archAt > 0 ? process.argv[archAt + 1] : undefined;
if (arch1 !== undefined && arch1 !== "x64" && arch1 !== "arm64") {
  console.error(`build: --arch '${arch1}' must be x64 or arm64`);
  process.exit(2);
}
const targets = arch1 ? [arch1] : process.argv.includes("--only-host") ? [hostTarget] : ["x64", "arm64"];
mkdirSync(dist, { recursive: true });

const sums: string[] = [];
for (const target of targets) {
  const outfile = join(dist, `keel-linux-${target}`);
  const args = [
    process.execPath, "build", ...COMPILE_FLAGS,
    `--target=bun-linux-${target}`,
    `--define=KEEL_VERSION=${JSON.stringify(pkg.version)}`,
    `--define=KEEL_COMMIT=${JSON.stringify(commitLabel)}`,
    `--outfile=${outfile}`,
    join(root, "src/main.ts"),
  ];
  const r = Bun.spawnSync(args, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (!r.success) {
    console.error(`build: bun build for linux-${target} failed (exit ${r.exitCode})`);
    process.exit(1);
  }
  const hash = new Bun.CryptoHasher("sha256").update(readFileSync(outfile)).digest("hex");
  sums.push(`${hash}  keel-linux-${target}`);
}
if (targets.length === 2) writeFileSync(join(dist, "SHA256SUMS"), sums.join("\n") + "\n");
console.log(`build: ${targets.map((t) => join(dist, `keel-linux-${t}`)).join(", ")} (${commitLabel})`);
