// Service directories as files on disk: what each file means, the three layouts, dependency
// errors, and the stop order.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "pathe";
import { discoverServices, parseSignal, stopLevels, unstartable, type ServiceDef } from "../../src/init/service-dir.ts";
import { tempDir, TEST_TIMEOUT_MS } from "../lib/keel.ts";

setDefaultTimeout(TEST_TIMEOUT_MS);

function file(path: string, text: string, mode = 0o644) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}
const def = (name: string, dependencies: string[] = []): ServiceDef => ({ name, dir: `/x/${name}`, run: `/x/${name}/run`, down: false, dependencies, downSignal: 15, essential: false });

describe("discoverServices", () => {
  test("runit, s6 and osixia layouts; every file read; problems named, others kept", () => {
    const root = tempDir("svcdir");
    const runit = join(root, "etc/service"), s6 = join(root, "etc/services.d"), osixia = join(root, "container/services");
    file(`${runit}/web/run`, "#!/bin/sh\n", 0o755);
    file(`${runit}/web/log/run`, "#!/bin/sh\n", 0o755);
    file(`${runit}/web/finish`, "#!/bin/sh\n", 0o755);
    file(`${runit}/web/down`, "");
    file(`${runit}/web/notification-fd`, "3\n");
    file(`${runit}/web/dependencies`, "db\n# a comment\n\ncache\n");
    file(`${runit}/web/dependencies.d/queue`, "");
    file(`${runit}/web/down-signal`, "SIGHUP\n");
    file(`${runit}/web/timeout-kill`, "1500\n");
    file(`${runit}/web/essential`, "");
    file(`${runit}/web/max-restarts`, "4\n");
    file(`${runit}/norun/finish`, "#!/bin/sh\n", 0o755);
    file(`${runit}/noexec/run`, "#!/bin/sh\n", 0o644);
    file(`${runit}/badfd/run`, "#!/bin/sh\n", 0o755);
    file(`${runit}/badfd/notification-fd`, "stdout\n");
    file(`${runit}/hugefd/run`, "#!/bin/sh\n", 0o755);
    file(`${runit}/hugefd/notification-fd`, "2000000\n");
    file(`${s6}/db/run`, "#!/bin/sh\n", 0o755);
    file(`${s6}/web/run`, "#!/bin/sh\n", 0o755);
    mkdirSync(join(root, "etc/services-available/cache"), { recursive: true });
    file(join(root, "etc/services-available/cache/run"), "#!/bin/sh\n", 0o755);
    file(join(root, "etc/services-available/unlinked/run"), "#!/bin/sh\n", 0o755);
    symlinkSync(join(root, "etc/services-available/cache"), `${s6}/cache`);
    file(`${osixia}/ldap/process.sh`, "#!/bin/sh\n", 0o755);
    file(`${osixia}/ldap/finish.sh`, "#!/bin/sh\n", 0o755);
    file(`${osixia}/ldap/startup.sh`, "#!/bin/sh\n", 0o755);
    file(`${osixia}/ldap/.priority`, "20\n");
    file(`${osixia}/setup-only/startup.sh`, "#!/bin/sh\n", 0o755);
    file(`${osixia}/setup-only/.priority`, "5\n");

    mkdirSync(Buffer.concat([Buffer.from(`${runit}/bad`), Buffer.from([0xff]), Buffer.from("name")]) as unknown as string);
    const d = discoverServices([runit, s6, osixia]);
    expect(d.services.map((s) => s.name)).toEqual(["web", "cache", "db", "ldap"]);
    expect(d.services[0]).toEqual({
      name: "web", dir: `${runit}/web`, run: `${runit}/web/run`, finish: `${runit}/web/finish`, down: true, logger: `${runit}/web/log/run`,
      notificationFd: 3, dependencies: ["db", "cache", "queue"], downSignal: 1, timeoutKillMs: 1500, essential: true, maxRestarts: 4,
    });
    expect(d.services[3]).toMatchObject({ name: "ldap", run: `${osixia}/ldap/process.sh`, finish: `${osixia}/ldap/finish.sh`, logger: undefined });
    expect(d.startup.map((s) => [s.path, s.priority])).toEqual([[`${osixia}/setup-only/startup.sh`, 5], [`${osixia}/ldap/startup.sh`, 20]]);
    // `container services link` marks services; from then on only marked ones run (no .priority: 500).
    file(`${osixia}/web/process.sh`, "#!/bin/sh\n", 0o755);
    file(`${osixia}/web/startup.sh`, "#!/bin/sh\n", 0o755);
    file(`${osixia}/web/.entrypoint`, "");
    const linked = discoverServices([osixia]);
    expect(linked.services.map((s) => s.name)).toEqual(["web"]);
    expect(linked.startup).toEqual([{ path: `${osixia}/web/startup.sh`, priority: 500 }]);
    expect(d.problems).toEqual([
      `${runit}/bad\ufffdname: its name is not UTF-8 (rename it); skipped`,
      `${runit}/badfd/notification-fd must hold one number from 3 to 1023 (got "stdout"); badfd skipped`,
      `${runit}/hugefd/notification-fd must hold one number from 3 to 1023 (got "2000000"); hugefd skipped`,
      `${runit}/noexec/run is not an executable file (chmod +x it); noexec skipped`,
      `${runit}/norun: no run script; skipped`,
      `${s6}/web: a service named web is already in ${runit}; this one is skipped`,
    ]);
  });
  test("signal names: SIGHUP, HUP, 1, lower case; nonsense is undefined", () => {
    expect([parseSignal("SIGHUP"), parseSignal("hup"), parseSignal("1\n"), parseSignal("SIGUSR2")]).toEqual([1, 1, 1, 12]);
    expect(parseSignal("SIGNOPE")).toBeUndefined();
    expect(parseSignal("99")).toBeUndefined();
  });
});

describe("dependencies", () => {
  test("unknown dependencies and cycles are named; what depends on them cannot start either", () => {
    const bad = unstartable([def("a", ["b"]), def("b", ["c"]), def("c", ["a"]), def("d", ["ghost"]), def("e", ["d"]), def("f", ["g"]), def("g")]);
    expect(Object.fromEntries(bad)).toEqual({
      a: "dependency cycle: a -> b -> c -> a",
      b: "dependency cycle: a -> b -> c -> a",
      c: "dependency cycle: a -> b -> c -> a",
      d: "depends on ghost, which is not a service",
      e: "depends on d, which cannot start",
    });
  });
  test("stop order: dependents first, independent services together", () => {
    const levels = stopLevels([def("db"), def("cache"), def("web", ["db", "cache"]), def("proxy", ["web"]), def("cron")]);
    expect(levels.map((l) => l.map((s) => s.name))).toEqual([["proxy", "cron"], ["web"], ["db", "cache"]]);
  });
});
