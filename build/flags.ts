// The flags of every compiled keel binary, shared with test/bench/start.bench.ts (whose
// hello-world must be built the same way to be a fair floor).
// DESIGN §4: no dotenv or bunfig autoload in the compiled binary (a bunfig.toml in the working
// directory must never preload code into PID 1). --splitting: each applet's import() becomes its
// own chunk inside the binary; without it every start loads the bytecode of every applet (one
// 150 KB module cost ~6 ms a start, issue 12).
export const COMPILE_FLAGS = [
  "--compile", "--minify", "--bytecode", "--splitting", "--format=esm",
  "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
] as const;
