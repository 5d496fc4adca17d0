// archstring — print the value given for this machine's architecture (behance's archstring).
//
// usage: archstring --x64|-i VALUE --arm64|-a VALUE [--arm VALUE] [--ppc64le VALUE] [--s390x VALUE] [--riscv64 VALUE]
//        e.g. curl -LO "https://example.org/tool-$(archstring --x64 amd64 --arm64 arm64).tar.gz"
// exit:  0 printed · 1 no value for this machine (or an unknown machine) · 2 usage (an unknown
//        option, or an option without its VALUE: `--x64` alone never prints an empty line)
// The machine is `uname -m` (x86_64 -> x64, aarch64/arm64 -> arm64, armv7l/armv6l -> arm).
import { machine } from "node:os";
import { AppletError, defineApplet, UsageError } from "../src/applet.ts";
import { writeOut } from "../src/out.ts";

export const ARCHES = ["x64", "arm64", "arm", "ppc64le", "s390x", "riscv64"] as const;
export type Arch = (typeof ARCHES)[number];

const MACHINES: Record<string, Arch> = {
  x86_64: "x64", amd64: "x64", aarch64: "arm64", arm64: "arm64", aarch64_be: "arm64",
  armv6l: "arm", armv7l: "arm", armv8l: "arm", arm: "arm", ppc64le: "ppc64le", s390x: "s390x", riscv64: "riscv64",
};

/** `uname -m` -> keel's architecture name, or undefined for a machine keel does not know. */
export function archOf(unameMachine: string): Arch | undefined {
  return MACHINES[unameMachine];
}

export default defineApplet({
  meta: { name: "archstring", description: "print the value given for this machine's architecture" },
  args: {
    x64: { type: "string", alias: "i", description: "value on x86_64" },
    arm64: { type: "string", alias: "a", description: "value on aarch64" },
    arm: { type: "string", description: "value on 32-bit arm" },
    ppc64le: { type: "string", description: "value on ppc64le" },
    s390x: { type: "string", description: "value on s390x" },
    riscv64: { type: "string", description: "value on riscv64" },
  },
  run({ args }) {
    if ((args._ as string[]).length > 0) throw new UsageError(`unexpected argument '${args._[0]}'; values go after --x64, --arm64, ...`);
    const given = ARCHES.filter((a) => typeof args[a] === "string");
    if (given.length === 0) throw new UsageError("give at least one value, e.g. --x64 amd64 --arm64 arm64");
    const m = machine();
    const arch = archOf(m);
    if (!arch) throw new AppletError(`unknown machine '${m}'; keel knows ${Object.keys(MACHINES).join(", ")}`);
    const value = args[arch];
    if (typeof value !== "string")
      throw new AppletError(`no value for this machine '${m}' (${arch}); add --${arch} VALUE (given: ${given.map((a) => `--${a}`).join(" ")})`);
    writeOut(value + "\n");
    return 0;
  },
});
