// `init -- bash` on a real terminal (tmux): CMD owns the terminal, so Ctrl-C and Ctrl-Z reach
// the job in bash, never init, and the shell's exit code becomes the container's.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { BINARY, ensureBuilt, pollUntil, setupAll, TEST_TIMEOUT_MS } from "../lib/keel.ts";
import { removeSandboxes, Sandbox, SANDBOX } from "../lib/init.ts";

// bun resets the default per file: every test file sets keel's own (see test/lib/keel.ts).
setDefaultTimeout(TEST_TIMEOUT_MS);

const socket = `keel-test-${process.pid}`;
const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", socket, "-f", "/dev/null", ...args], { stdout: "pipe", stderr: "pipe" });
const screen = () => tmux("capture-pane", "-p", "-t", "kt").stdout.toString();

/** Waits until a process with exactly this command line runs (so a key press reaches it, not the prompt). */
const waitForProcess = (cmdline: string, ms = 60_000) =>
  pollUntil(() => Bun.spawnSync(["pgrep", "-f", `^${cmdline}$`]).exitCode === 0, ms, () => `${cmdline} never started; the screen shows:\n${screen()}`);

const waitForScreen = (text: string, ms = 60_000) =>
  pollUntil(() => screen().includes(text), ms, () => `screen never showed ${JSON.stringify(text)}; it shows:\n${screen()}`);

setupAll(ensureBuilt);
afterAll(() => {
  tmux("kill-server");
  removeSandboxes();
});

describe("init on a terminal", () => {
  test("tmux is installed (apt-get install tmux); without it the tty behaviour is NOT tested", () => {
    expect(Bun.which("tmux")).not.toBeNull();
  });
  test.if(Boolean(Bun.which("tmux")))("Ctrl-C interrupts a sleep in bash, Ctrl-Z stops it, and neither reaches init", async () => {
    const sb = new Sandbox();
    const rc = `${sb.dir}/rc`;
    sb.write("/root/.keel-test-rc", "PS1='keel$ '\n");
    const cmd = `env -i PATH=/usr/bin:/bin TERM=xterm HOME=/root ${SANDBOX} ${sb.dir} -- ${BINARY} init -- /bin/bash --rcfile /root/.keel-test-rc -i; echo $? > ${rc}`;
    expect(tmux("new-session", "-d", "-s", "kt", "-x", "100", "-y", "30", cmd).exitCode).toBe(0);
    await waitForScreen("keel$");
    tmux("send-keys", "-t", "kt", "sleep 101; echo sleep-ended-$((1+1))", "Enter");
    await waitForProcess("sleep 101");
    tmux("send-keys", "-t", "kt", "C-c");
    await waitForScreen("^C");
    tmux("send-keys", "-t", "kt", "echo alive-$((6*7))", "Enter");
    await waitForScreen("alive-42");
    // bash aborts the whole line on SIGINT: the echo after sleep never ran.
    expect(screen()).not.toContain("sleep-ended-2");
    tmux("send-keys", "-t", "kt", "sleep 201", "Enter");
    await waitForProcess("sleep 201");
    tmux("send-keys", "-t", "kt", "C-z");
    await waitForScreen("Stopped");
    // `wait` takes the killed job out of bash's table: `exit` with a job bash still thinks
    // stopped only prints "There are stopped jobs." (seen on a slow machine).
    tmux("send-keys", "-t", "kt", "kill %1; wait %1; echo after-z-$((6*7))", "Enter");
    await waitForScreen("after-z-42");
    tmux("send-keys", "-t", "kt", "exit 3", "Enter");
    const until = Date.now() + 60_000;
    while (!existsSync(rc) && Date.now() < until) await Bun.sleep(25);
    if (!existsSync(rc)) throw new Error(`init did not exit after 'exit 3'; the screen shows:\n${screen()}`);
    expect(readFileSync(rc, "utf8").trim()).toBe("3");
  });
});
