/**
 * Commander parsers for the values client commands take: counts, revisions,
 * durations, and ids in hex as etcdctl prints them. A bad value becomes
 * commander's "argument … is invalid" message and exit code 2.
 */
import { InvalidArgumentError } from "commander";
import parseDuration from "parse-duration";

/** Ids are below 2^53 (see the server's digestId), so a JavaScript number holds them exactly. */
const LARGEST_ID = Number.MAX_SAFE_INTEGER;

export function wholeNumber(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new InvalidArgumentError("expected a whole number (0 or more)");
  return Number(text);
}

export function positiveWholeNumber(text: string): number {
  const value = wholeNumber(text);
  if (value === 0) throw new InvalidArgumentError("expected a whole number above 0");
  return value;
}

/** Go-style durations as etcdctl takes them ("5s", "500ms", "1m30s"); a bare number is seconds. */
export function duration(text: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : parseDuration(text);
  if (ms === null || !Number.isFinite(ms) || ms <= 0) throw new InvalidArgumentError('expected a duration such as "5s", "500ms" or "1m30s"');
  return ms;
}

/** Commander's parser for a lease or member id as etcdctl prints it: hexadecimal, without 0x. */
export function hexId(text: string): number {
  const id = idFromHex(text);
  if (id === undefined) throw new InvalidArgumentError("expected an id in hexadecimal, as the list commands print it");
  return id;
}

/** The id that `text` spells in hexadecimal (0x allowed), or undefined if it spells none. */
export function idFromHex(text: string): number | undefined {
  const digits = text.replace(/^0x/i, "");
  const value = /^[0-9a-f]{1,14}$/i.test(digits) ? Number.parseInt(digits, 16) : 0;
  return value > 0 && value <= LARGEST_ID ? value : undefined;
}

/** An id the way etcdctl prints it: lower-case hexadecimal. */
export function toHex(id: number): string {
  return id.toString(16);
}

/** A comma-separated list of URLs, blanks dropped. */
export function urlList(text: string): string[] {
  const urls = text
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  if (urls.length === 0) throw new InvalidArgumentError("expected one or more comma-separated URLs");
  for (const url of urls) {
    if (!URL.canParse(url.includes("://") ? url : `http://${url}`)) throw new InvalidArgumentError(`${JSON.stringify(url)} is not a URL`);
  }
  return urls;
}

/** Commander's parser for a fixed set of words, case-insensitive, given back upper-case. */
export function oneOf<T extends string>(words: readonly T[]): (text: string) => T {
  return (text) => {
    const found = words.find((word) => word === text.toUpperCase());
    if (found === undefined) throw new InvalidArgumentError(`expected one of ${words.join(", ")}`);
    return found;
  };
}
