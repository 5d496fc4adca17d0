// The suite's own rules (issue: it must pass on a slow machine and leave nothing behind), checked
// on every test file so a new one cannot quietly break them.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "pathe";
import { ROOT, TEST_TIMEOUT_MS } from "../lib/keel.ts";

setDefaultTimeout(TEST_TIMEOUT_MS);

const files = ["unit", "e2e", "container"].flatMap((d) =>
  readdirSync(join(ROOT, "test", d)).filter((f) => f.endsWith(".test.ts")).map((f) => `test/${d}/${f}`).filter((f) => f !== "test/unit/suite.test.ts"),
);

describe("every test file", () => {
  test.each(files)("%s: sets keel's default timeout, makes temp dirs in the run dir, sets up through setupAll", (file) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    // bun resets the default timeout (5 s) for each file.
    expect(text).toContain("setDefaultTimeout(TEST_TIMEOUT_MS)");
    // os.tmpdir() is /tmp: some tests mount over it, and nothing there is removed at the end.
    expect(text).not.toContain("tmpdir()");
    // A failing bun beforeAll makes the file's tests vanish from the count; setupAll fails them.
    expect(text).not.toMatch(/\bbeforeAll\(/);
  });
});
