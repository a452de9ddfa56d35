/**
 * Copies of bytes the Raft log will keep (a proposal's encoded command, a
 * received frame whose entries the log stores), made one after another into
 * shared slabs. An ArrayBuffer per copy costs about 190 bytes beyond the
 * bytes (the buffer object, its native backing store, a malloc block), and
 * its block, below the size glibc maps apart, stays in the C heap among
 * short-lived ones, which then cannot give freed space back. Log entries
 * leave in the order they came, so a slab is freed soon after its last one.
 * A copy larger than `ownBufferAbove` gets a buffer of its own, so what a
 * slab leaves unused at its end stays small.
 */
export class SlabCopier {
  private slab: Uint8Array;
  private used = 0;

  constructor(
    private readonly slabBytes = 1024 * 1024,
    private readonly ownBufferAbove = 64 * 1024,
  ) {
    this.slab = new Uint8Array(slabBytes);
  }

  copy(bytes: Uint8Array): Uint8Array {
    if (bytes.byteLength > this.ownBufferAbove) return new Uint8Array(bytes);
    if (this.used + bytes.byteLength > this.slabBytes) {
      this.slab = new Uint8Array(this.slabBytes);
      this.used = 0;
    }
    const copy = this.slab.subarray(this.used, this.used + bytes.byteLength);
    copy.set(bytes);
    this.used += bytes.byteLength;
    return copy;
  }
}
