// npx bun run build [--only-host] [--outdir DIR] -> dist/keel-linux-{x64,arm64} + dist/SHA256SUMS
// Flags per DESIGN §4: no dotenv or bunfig autoload in the compiled binary (a bunfig.toml in
// the working directory must never preload code into PID 1).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { arch } from "node:os";
import { join, resolve } from "pathe";

const root = resolve(import.meta.dir, "..");
const outdirAt = process.argv.indexOf("--outdir");
const dist = outdirAt > 0 && process.argv[outdirAt + 1] ? resolve(process.argv[outdirAt + 1]!) : join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const git = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root, stderr: "ignore" });
const commit = git.success ? git.stdout.toString().trim() : "unknown";
const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: root, stderr: "ignore" });
const commitLabel = commit + (dirty.success && dirty.stdout.toString().trim() ? "-dirty" : "");

const hostTarget = arch() === "arm64" ? "arm64" : "x64";
const targets = process.argv.includes("--only-host") ? [hostTarget] : ["x64", "arm64"];
mkdirSync(dist, { recursive: true });

const sums: string[] = [];
for (const target of targets) {
  const outfile = join(dist, `keel-linux-${target}`);
  const args = [
    process.execPath, "build", "--compile", "--minify", "--bytecode",
    "--format=esm", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
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
