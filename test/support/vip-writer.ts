/**
 * A client inside the compose network: puts distinct keys through one
 * address (the balancers' virtual IP) one at a time until it is stopped, and
 * prints each outcome as a JSON line; a put counts as acknowledged once its
 * line is printed. It runs alone in a container of the member image, so it
 * uses nothing but Node's globals.
 *
 *   node vip-writer.js <base-url>
 */
const baseUrl = process.argv[2];
const b64 = (text: string): string => Buffer.from(text).toString("base64");

async function put(key: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${baseUrl}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({ key: b64(key), value: b64(key) }),
      signal: AbortSignal.timeout(2_000),
    });
    return response.status === 200 ? undefined : `status ${response.status}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return cause ?? (error as Error).name;
  }
}

for (let n = 0; ; n++) {
  const key = `vip/${String(n).padStart(6, "0")}`;
  const startedAt = Date.now();
  const error = await put(key);
  console.log(JSON.stringify({ key, startedAt, ...(error === undefined ? { ok: true } : { ok: false, error }) }));
  if (error !== undefined) await new Promise((resolve) => setTimeout(resolve, 50));
}
