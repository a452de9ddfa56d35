/** The store's data as the page holds it, apart from how the gateway encodes it (no DOM here: the tree listing is tested in Node). */
export interface Kv {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** A lease id as the gateway writes it (decimal int64; "0" for none). */
  readonly lease: string;
}

export interface RangeOptions {
  readonly rangeEnd?: Uint8Array;
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly revision?: number;
}

export interface RangeReply {
  readonly revision: number;
  readonly kvs: Kv[];
  readonly more: boolean;
  readonly count: number;
}
