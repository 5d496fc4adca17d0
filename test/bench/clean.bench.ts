// Image size before/after `clean` on the bookworm minbase rootfs, next to behance's clean.sh
// (apt-get autoclean/autoremove + rm of docs, man, tmp) measured the same way. Not a timed test.
//
// usage: npx bun test/bench/clean.bench.ts      (root; uses the test rootfs cache; network for apt)
// Each scenario gets its own copy of one prepared rootfs: minbase after `apt-get update` and
// `apt-get install --no-install-recommends ca-certificates` from the host's Debian mirror (the
// state a Dockerfile RUN line leaves). Sizes: `du -s -B1` (allocated, what clean reports) and
// `du -sb` (apparent bytes).
import { rmSync } from "node:fs";
import { join } from "pathe";
import { applet, cleanEnv, ensureBuilt, run } from "../lib/keel.ts";
import { freshRootfs, inChroot } from "../lib/rootfs.ts";

// behance/docker-base container/root/scripts/clean_ubuntu.sh, as it runs there (bash, -e).
const BEHANCE = `apt-get autoclean -y && \\
apt-get autoremove -y && \\
rm -rf /var/lib/{cache,log}/ && \\
rm -rf /var/lib/apt/lists/*.lz4 && \\
rm -rf /tmp/* /var/tmp/* && \\
rm -rf /usr/share/doc/ && \\
rm -rf /usr/share/man/
`;

function du(dir: string, apparent: boolean): number {
  const r = Bun.spawnSync(["du", "-s", apparent ? "-b" : "-B1", "-x", dir], { stdout: "pipe" });
  return Number(r.stdout.toString().split(/\s/)[0]);
}

const mb = (n: number) => (n / 1048576).toFixed(1).padStart(7);

ensureBuilt();

const scenarios: [string, (dir: string) => Promise<string>][] = [
  ["keel clean", async (dir) => (await run([await applet("clean"), "--root", dir], { env: cleanEnv() })).stderr.trim().split("\n").pop()!],
  ["keel clean --docs", async (dir) => (await run([await applet("clean"), "--root", dir, "--docs"], { env: cleanEnv() })).stderr.trim().split("\n").pop()!],
  ["keel clean --docs --logs", async (dir) => (await run([await applet("clean"), "--root", dir, "--docs", "--logs"], { env: cleanEnv() })).stderr.trim().split("\n").pop()!],
  [
    "behance clean.sh",
    async (dir) => {
      await Bun.write(join(dir, "root/behance-clean.sh"), BEHANCE);
      const r = inChroot(dir, ["bash", "-e", "/root/behance-clean.sh"]);
      rmSync(join(dir, "root/behance-clean.sh"));
      return `exit ${r.code}`;
    },
  ],
];

async function measure(base: string, state: string) {
  console.log(`\nstate: ${state}`);
  console.log("scenario                   alloc MiB before -> after (freed)   apparent MiB before -> after (freed)");
  for (const [name, act] of scenarios) {
    const copy = `${base}.${name.replace(/\W+/g, "-")}`;
    Bun.spawnSync(["cp", "-a", base, copy]);
    const before = [du(copy, false), du(copy, true)] as const;
    const note = await act(copy);
    const after = [du(copy, false), du(copy, true)] as const;
    console.log(
      `${name.padEnd(26)} ${mb(before[0])} -> ${mb(after[0])} (${mb(before[0] - after[0])})   ${mb(before[1])} -> ${mb(after[1])} (${mb(before[1] - after[1])})   ${note}`,
    );
    rmSync(copy, { recursive: true, force: true });
  }
}

const base = freshRootfs();
try {
  await measure(base.dir, "plain minbase, as mmdebstrap leaves it");
  let prepared = "minbase after apt-get update + install --no-install-recommends ca-certificates";
  for (const argv of [["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "ca-certificates"]]) {
    const r = inChroot(base.dir, argv);
    if (r.code !== 0) {
      prepared = "";
      console.log(`\n(${argv.join(" ")} failed in the chroot, exit ${r.code}: no network? second state skipped)`);
      break;
    }
  }
  if (prepared) await measure(base.dir, prepared);
} finally {
  base.dispose();
}
