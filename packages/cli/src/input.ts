/** Reading what a command takes on standard input (put's value, txn's JSON). */
import { UsageError } from "./errors.js";

/** All of standard input, byte for byte; refuses a terminal, where the user would wait without knowing why. */
export async function readStandardInput(what: string): Promise<Buffer> {
  if (process.stdin.isTTY) throw new UsageError(`${what} is read from standard input: pipe it in (or see --help)`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
