// The whole tree type-checks under tsconfig.json's strict settings (tsc from devDependencies).
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "pathe";
import { TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

test("tsc --noEmit is clean", () => {
  const root = join(import.meta.dir, "../..");
  const r = Bun.spawnSync([process.execPath, join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", root], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString() + r.stderr.toString();
  expect(out).toBe("");
  expect(r.exitCode).toBe(0);
}, 120_000);
