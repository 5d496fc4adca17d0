// Pure parts of issue 10's robustness fixes: long timers, the logging variables' warnings, and
// which runtime dirs writer and readers agree on. The e2e side is test/e2e/robustness.test.ts.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { MAX_TIMEOUT_MS, timer } from "../../src/init/timer.ts";
import { settingsProblems } from "../../src/log.ts";
import { runtimeDirCandidates } from "../../src/runtime.ts";
import { TEST_TIMEOUT_MS } from "../lib/keel.ts";

setDefaultTimeout(TEST_TIMEOUT_MS);

describe("timer", () => {
  test("longer than setTimeout holds: does not fire at once (setTimeout alone would, after 1 ms)", async () => {
    for (const ms of [MAX_TIMEOUT_MS + 1, 30 * 24 * 3600 * 1000, Infinity]) {
      const t = timer(ms);
      const first = await Promise.race([t.promise, Bun.sleep(100).then(() => "still waiting")]);
      t.cancel();
      expect(first).toBe("still waiting");
    }
  });
  test("short, zero and negative times fire", async () => {
    for (const ms of [5, 0, -1, NaN]) expect(await timer(ms).promise).toBe("timeout");
  });
});

describe("logging variables", () => {
  test("a bad KEEL_LOG_LEVEL, CONTAINER_LOG_LEVEL or KEEL_LOG_FORMAT is named with the valid values", () => {
    expect(settingsProblems({})).toEqual([]);
    expect(settingsProblems({ KEEL_LOG_LEVEL: "debug", KEEL_LOG_FORMAT: "json" })).toEqual([]);
    expect(settingsProblems({ KEEL_LOG_LEVEL: "loud" })).toEqual([
      "KEEL_LOG_LEVEL='loud' is not a log level; use one of none, error, warning, info, debug, trace or 0-5 (ignored: logging at info)",
    ]);
    expect(settingsProblems({ KEEL_LOG_LEVEL: "loud", CONTAINER_LOG_LEVEL: "1" })[0]).toEndWith("(ignored: logging at error)");
    expect(settingsProblems({ CONTAINER_LOG_LEVEL: "9" })[0]).toStartWith("CONTAINER_LOG_LEVEL='9' is not a log level");
    expect(settingsProblems({ KEEL_LOG_FORMAT: "yaml" })).toEqual(["KEEL_LOG_FORMAT='yaml' is not a log format; use console or json (ignored: using console)"]);
  });
});

describe("runtime dir candidates", () => {
  test("a relative KEEL_RUNTIME_DIR or XDG_RUNTIME_DIR is ignored, so init and readers agree whatever their cwd", () => {
    expect(runtimeDirCandidates({ KEEL_RUNTIME_DIR: "state/keel" }, 0)).toEqual(["/run/keel", "/tmp/keel-0"]);
    expect(runtimeDirCandidates({ KEEL_RUNTIME_DIR: "/srv/state", XDG_RUNTIME_DIR: "run/user" }, 5)).toEqual(["/srv/state", "/tmp/keel-5"]);
    expect(runtimeDirCandidates({ XDG_RUNTIME_DIR: "/run/user/5" }, 5)).toEqual(["/run/keel", "/run/user/5/keel", "/tmp/keel-5"]);
  });
});
