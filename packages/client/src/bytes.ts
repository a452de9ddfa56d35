/**
 * Keys and values as callers give them (text or bytes) and as the etcd JSON
 * gateway carries them (base64), plus etcd's range conventions.
 */

/** A key or value: text is sent as UTF-8. */
export type Bytes = string | Uint8Array;

export function toBuffer(bytes: Bytes): Buffer {
  if (typeof bytes === "string") return Buffer.from(bytes, "utf8");
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function toBase64(bytes: Bytes): string {
  return toBuffer(bytes).toString("base64");
}

export function fromBase64(text: string | undefined): Buffer {
  return Buffer.from(text ?? "", "base64");
}

/**
 * The range end that selects every key starting with `prefix`: the prefix
 * with its last byte below 0xff incremented (trailing 0xff bytes dropped);
 * a prefix of only 0xff bytes, or an empty one, selects every key (a single
 * zero byte, etcd's "to the end").
 */
export function prefixEnd(prefix: Bytes): Buffer {
  const bytes = toBuffer(prefix);
  for (let last = bytes.byteLength - 1; last >= 0; last--) {
    const byte = bytes[last] as number;
    if (byte < 0xff) {
      const end = Buffer.from(bytes.subarray(0, last + 1));
      end[last] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** A proto3 JSON int64: a decimal string, a number, or absent (zero). */
export function toNumber(value: string | number | undefined): number {
  return value === undefined ? 0 : Number(value);
}
