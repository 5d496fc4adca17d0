// Preloaded by bunfig.toml for every `bun test`: one run dir, one build before any test file
// loads, and the run dir removed at the end whatever happened.
import { afterAll } from "bun:test";
import { rmSync } from "node:fs";
import { containerTierDone } from "./docker.ts";
import { ensureBuilt, RUN_DIR } from "./keel.ts";

try {
  ensureBuilt();
} catch (error) {
  // Every test that needs the binary throws this again and fails; say it once, loudly, here.
  console.error(`keel tests: ${(error as Error).message}`);
}

afterAll(() => {
  containerTierDone();
  rmSync(RUN_DIR, { recursive: true, force: true });
});
