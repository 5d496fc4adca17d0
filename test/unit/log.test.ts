import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { parseLevel, settingsFromEnv } from "../../src/log.ts";
import { archOf } from "../../applets/archstring.ts";
import { TEST_TIMEOUT_MS } from "../lib/keel.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

describe("levels", () => {
  test("names, aliases and osixia's digits", () => {
    expect(["none", "error", "warning", "info", "debug", "trace"].map(parseLevel)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(["0", "1", "2", "3", "4", "5"].map(parseLevel)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(parseLevel("WARN")).toBe(2);
    expect(parseLevel(" Debug ")).toBe(4);
    for (const bad of ["6", "-1", "verbose", "", "infos", "1.0"]) expect(parseLevel(bad)).toBeUndefined();
  });
  test("KEEL_LOG_LEVEL wins over CONTAINER_LOG_LEVEL; bad values fall back to info", () => {
    expect(settingsFromEnv({ KEEL_LOG_LEVEL: "debug", CONTAINER_LOG_LEVEL: "1" }).level).toBe(4);
    expect(settingsFromEnv({ CONTAINER_LOG_LEVEL: "1" }).level).toBe(1);
    expect(settingsFromEnv({ KEEL_LOG_LEVEL: "loud" }).level).toBe(3);
    expect(settingsFromEnv({ KEEL_LOG_FORMAT: "json" }).format).toBe("json");
    expect(settingsFromEnv({}).format).toBe("console");
  });
});

describe("archstring mapping", () => {
  test("uname -m values", () => {
    expect(archOf("x86_64")).toBe("x64");
    expect(archOf("aarch64")).toBe("arm64");
    expect(archOf("arm64")).toBe("arm64");
    expect(archOf("armv7l")).toBe("arm");
    expect(archOf("ppc64le")).toBe("ppc64le");
    expect(archOf("s390x")).toBe("s390x");
    expect(archOf("riscv64")).toBe("riscv64");
    expect(archOf("mips")).toBeUndefined();
    expect(archOf("i686")).toBeUndefined();
  });
});
