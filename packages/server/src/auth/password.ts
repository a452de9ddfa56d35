/**
 * Password hashing, on the member that receives the request and before
 * anything is proposed (apply must not draw randomness): scrypt from
 * node:crypto, a slow salted hash that runs on libuv's thread pool, so a
 * hash never blocks the event loop. The cost follows etcd's --bcrypt-cost
 * (4 to 16, default 10): scrypt's N is 2^(cost + 4), so the default costs
 * about as much time as bcrypt's (16 MB and some 50 ms per hash).
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export interface PasswordHash {
  /** log2 of scrypt's N, kept with the hash so that a later cost change leaves old hashes readable. */
  readonly logN: number;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

export const MIN_BCRYPT_COST = 4;
export const MAX_BCRYPT_COST = 16;
export const DEFAULT_BCRYPT_COST = 10;

const BLOCK_SIZE = 8;
const HASH_BYTES = 32;

export async function hashPassword(password: string, bcryptCost: number): Promise<PasswordHash> {
  const logN = bcryptCost + 4;
  const salt = randomBytes(16);
  return { logN, salt, hash: await derive(password, salt, logN) };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const derived = await derive(password, stored.salt, stored.logN);
  return derived.length === stored.hash.length && timingSafeEqual(derived, stored.hash);
}

function derive(password: string, salt: Uint8Array, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  const options = { N, r: BLOCK_SIZE, p: 1, maxmem: 256 * N * BLOCK_SIZE };
  return new Promise((resolve, reject) => scrypt(password, salt, HASH_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))));
}
