// The part of hpack.js (no types of its own) that authority.ts uses.
declare module "hpack.js" {
  interface Header {
    readonly name: string;
    readonly value: string;
  }
  interface Decompressor {
    write(block: Uint8Array): void;
    execute(): void;
    read(): Header | null;
  }
  export const decompressor: { create(options: { table: { size: number } }): Decompressor };
}
