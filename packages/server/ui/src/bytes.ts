/**
 * Keys and values are bytes: the etcd gateway carries them in base64, and
 * the page shows them as text when they are UTF-8 and as hex otherwise.
 */
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

export const utf8 = (text: string): Uint8Array => encoder.encode(text);

export function fromBase64(text: string | undefined): Uint8Array {
  if (!text) return new Uint8Array();
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The bytes as text, or undefined when they are not valid UTF-8. */
export function asText(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

export function asHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
}

/** How a key is named on the page: its text, or its hex when it is not text. */
export const keyLabel = (bytes: Uint8Array): string => asText(bytes) ?? `0x${asHex(bytes).replaceAll(" ", "")}`;

/** The end of the range holding every key that starts with `prefix` (etcd's prefix range end). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.slice(0, i + 1);
    }
  }
  // All 0xff (or empty): to the end of the keyspace.
  return Uint8Array.of(0);
}

/** The smallest key after `key`: where the next page of a listing starts. */
export const keyAfter = (key: Uint8Array): Uint8Array => Uint8Array.of(...key, 0);
