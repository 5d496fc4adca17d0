// The errors an applet reports to its user (runApplet turns them into a message and an exit
// code). Apart from applet.ts so code that only throws them does not load citty.

/** A failure the user can act on: `message` says what failed and what to do. */
export class AppletError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Bad usage: exit 2 with a pointer to --help. */
export class UsageError extends AppletError {
  constructor(message: string) {
    super(message, 2);
  }
}
