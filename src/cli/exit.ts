// Ending the CLI process without losing output. Writes to a pipe are asynchronous on POSIX: what the reader has not
// taken yet (a pipe holds 64 KiB) waits in the process, and `process.exit()` drops it. So `mtls-rotator status
// --json | jq` got the first 64 KiB. The exit waits until stdout and stderr have handed everything to the OS;
// `process.exit` is still needed after that, because the SDKs' keep-alive sockets would hold the process open.

/** Resolves once everything written to `stream` so far has been flushed (or the stream can take no more). */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) {
      resolve();
      return;
    }
    // Writes complete in order, so the callback of this empty write runs after every earlier one.
    stream.write('', () => resolve());
  });
}

/**
 * A reader that goes away early (`mtls-rotator status --json | head`) makes the next write fail with EPIPE; that
 * ends the output, as for any Unix tool, instead of crashing the process with an unhandled 'error' event.
 */
export function toleratePipeClosed(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

/** Sets the exit status, waits for stdout and stderr to be written out, then ends the process. */
export async function exitWhenWritten(code: number): Promise<never> {
  process.exitCode = code;
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
