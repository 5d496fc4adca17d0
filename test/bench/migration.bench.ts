// The phusion fixture (test/container/migrations/phusion: nginx + memcached under /etc/service,
// a svlogd logger) as a real container, on keel (its image as built) next to the very same image
// with Debian's runit as PID 1 (`runsvdir -P /etc/service`): docker run -> both services answer,
// and docker stop -> gone. Not a test: it prints medians and ratios.
//   npx bun test/bench/migration.bench.ts [--runs 7]
import { join } from "pathe";
import { ROOT, tempDir } from "../lib/keel.ts";
import { buildKeelImage, docker, ensureDocker, RIG, sh } from "../lib/docker.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg("--runs", 7);
const tag = (what: string) => `keel-bench-${what}:${process.pid}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const startedDocker = ensureDocker();
const images = [tag("base"), tag("phusion"), tag("phusion-runit")];
try {
  buildKeelImage(images[0]!);
  const fixture = join(ROOT, "test/container/migrations/phusion");
  const built = docker("build", "-q", "--network", "host", "--build-arg", `BASE=${images[0]}`, "-t", images[1]!, fixture);
  if (built.code !== 0) throw new Error(`building the phusion fixture failed:\n${built.err}`);
  // The same image, runit's runsvdir as PID 1 (its svlogd replaces keel's link; run scripts unchanged).
  const ctx = tempDir("bench-runit");
  await Bun.write(join(ctx, "Dockerfile"), `FROM ${images[1]}\nRUN apt-get update && apt-get install -y --no-install-recommends runit && rm -rf /var/lib/apt/lists/*\nENTRYPOINT ["/usr/bin/runsvdir", "-P", "/etc/service"]\nCMD []\n`);
  const runit = docker("build", "-q", "--network", "host", "-t", images[2]!, ctx);
  if (runit.code !== 0) throw new Error(`building the runit variant failed:\n${runit.err}`);

  const probe = "exec 3<>/dev/tcp/127.0.0.1/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 12 <&3 | grep -q 200 && exec 4<>/dev/tcp/127.0.0.1/11211 && printf 'version\\r\\n' >&4 && head -c 7 <&4 | grep -q VERSION";
  const rows: Record<string, { ready: number[]; stop: number[] }> = { keel: { ready: [], stop: [] }, runit: { ready: [], stop: [] } };
  for (let i = 0; i < RUNS; i++)
    for (const [name, image] of (i % 2 ? [["runit", images[2]!], ["keel", images[1]!]] : [["keel", images[1]!], ["runit", images[2]!]]) as [string, string][]) {
      const c = `keel-bench-c-${process.pid}-${name}-${i}`;
      const t0 = performance.now();
      if (docker("run", "-d", "--name", c, "--network", "none", image).code !== 0) throw new Error(`docker run ${image} failed`);
      // Both services answer on loopback (probed from inside, as a health check would).
      while (docker("exec", c, "bash", "-c", probe).code !== 0) {
        if (performance.now() - t0 > 60_000) throw new Error(`${name}: services never answered`);
        await Bun.sleep(5);
      }
      rows[name]!.ready.push(performance.now() - t0);
      const t1 = performance.now();
      docker("stop", c);
      rows[name]!.stop.push(performance.now() - t1);
      docker("rm", "-f", c);
    }
  const k = rows.keel!, r = rows.runit!;
  console.log(`phusion fixture (nginx + memcached + svlogd), medians of ${RUNS}, docker run/stop round trips included`);
  console.log("| | keel | runit (runsvdir) | keel/runit |\n|---|---|---|---|");
  for (const [label, a, b] of [["docker run -> both services answer", median(k.ready), median(r.ready)], ["docker stop -> gone", median(k.stop), median(r.stop)]] as const)
    console.log(`| ${label} | ${a.toFixed(0)} ms | ${b.toFixed(0)} ms | ${(a / b).toFixed(2)} |`);
} finally {
  docker("rmi", "-f", ...images);
  if (startedDocker) sh(["bash", RIG, "--down"]);
}
