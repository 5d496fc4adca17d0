// The idiom this issue exists for, under the real init as PID 1 in a sandbox: a script that starts
// `#!/usr/bin/with-contenv bash` and ends `exec setuser app ...`, with users and a docker_env
// group that exist only in the sandbox's /etc (an overlay: the host's /etc is never written).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, symlinkSync } from "node:fs";
import { BINARY, ensureBuilt, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { removeSandboxes, runInit, Sandbox } from "../lib/init.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

setupAll(ensureBuilt);
afterAll(() => removeSandboxes());

function sandboxWithUsers(): Sandbox {
  const sb = new Sandbox();
  sb.write("/etc/passwd", readFileSync("/etc/passwd", "utf8") + "app:x:4242:4242:App:/home/app:/bin/sh\n");
  sb.write("/etc/group", readFileSync("/etc/group", "utf8") + "app:x:4242:\ndocker_env:x:8377:app\nappextra:x:4300:app\n");
  sb.mkdir("/usr/bin");
  sb.mkdir("/sbin");
  symlinkSync(BINARY, sb.path("/usr/bin/with-contenv"));
  symlinkSync(BINARY, sb.path("/sbin/setuser"));
  return sb;
}

describe("a service script under init", () => {
  test("#!/usr/bin/with-contenv bash sees docker run -e and a cont-init.d value; setuser app runs with app's groups", async () => {
    const sb = sandboxWithUsers();
    sb.script("/etc/cont-init.d/10-secret", "printf 'from\\ncont-init' > /run/s6/container_environment/FROM_INIT");
    sb.write("/usr/local/bin/service", `#!/usr/bin/with-contenv bash
printf '%s|%s' "$FROM_DOCKER" "$FROM_INIT" > /tmp/seen-by-script
exec setuser app sh -c 'id -u; id -G; echo "$HOME"; printf "%s" "$FROM_INIT"' > /tmp/seen-by-app
`, 0o755);
    const r = await runInit(sb, ["--", "/usr/local/bin/service"], { env: { FROM_DOCKER: "it's \"docker\"" } });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/seen-by-script")).toBe(`it's "docker"|from\ncont-init`);
    expect(sb.read("/tmp/seen-by-app")).toBe("4242\n4242 4300 8377\n/home/app\nfrom\ncont-init");
  });
  test("the store is group docker_env, 0750/0640: a member reads it, anyone else gets exit 1 saying why", async () => {
    const sb = sandboxWithUsers();
    const r = await runInit(sb, ["--", "sh", "-c", `
      stat -L -c '%a %G %n' /run/keel/env /run/keel/env.sh /run/keel/env.json > /tmp/modes
      setuser app with-contenv sh -c 'echo "member:$MARK"' > /tmp/member 2>&1
      setuser nobody with-contenv sh -c 'echo "other:$MARK"' > /tmp/other 2>&1; echo "rc=$?" >> /tmp/other`], { env: { MARK: "m" } });
    expect(r.code).toBe(0);
    expect(sb.read("/tmp/modes")).toBe("750 docker_env /run/keel/env\n640 docker_env /run/keel/env.sh\n640 docker_env /run/keel/env.json\n");
    expect(sb.read("/tmp/member")).toBe("member:m\n");
    expect(sb.read("/tmp/other")).toBe("with-contenv: cannot read the saved environment /run/keel/env: permission denied; run as root or as a member of group docker_env\nrc=1\n");
  });
});
