/** The simulated disk keeps exactly what a power loss would keep. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SimDisk, type WalFileSystem } from "../src/index.js";

const bytes = (text: string): Uint8Array => Buffer.from(text);

async function text(fs: WalFileSystem, path: string): Promise<string> {
  return (await fs.readFile(path)).toString();
}

/** A disk with directory /d, and a mount of it. */
async function diskWithDir(disk = new SimDisk()): Promise<{ disk: SimDisk; fs: WalFileSystem }> {
  const fs = disk.mount();
  await fs.mkdir("/d");
  return { disk, fs };
}

describe("SimDisk", () => {
  test("a crash keeps synced data and drops what was written after the sync", async () => {
    let { disk, fs } = await diskWithDir();
    const file = await fs.create("/d/f");
    await fs.syncDir("/d");
    await file.write(bytes("synced"), 0);
    await file.datasync();
    await file.write(bytes(" lost"), 6);
    assert.equal(await text(fs, "/d/f"), "synced lost");
    disk.crash();
    fs = disk.mount();
    assert.equal(await text(fs, "/d/f"), "synced");
  });

  test("a new file, a rename or a removal survives a crash only after its directory is synced", async () => {
    let { disk, fs } = await diskWithDir();
    const file = await fs.create("/d/a");
    await file.write(bytes("data"), 0);
    await file.datasync();
    disk.crash();
    fs = disk.mount();
    assert.deepEqual(await fs.readdir("/d"), [], "creation was never made durable");

    const again = await fs.create("/d/a");
    await again.write(bytes("data"), 0);
    await again.datasync();
    await fs.syncDir("/d");
    await fs.rename("/d/a", "/d/b");
    disk.crash();
    fs = disk.mount();
    assert.deepEqual(await fs.readdir("/d"), ["a"]);

    await fs.rename("/d/a", "/d/b");
    await fs.syncDir("/d");
    await fs.unlink("/d/b");
    disk.crash();
    fs = disk.mount();
    assert.deepEqual(await fs.readdir("/d"), ["b"]);
    assert.equal(await text(fs, "/d/b"), "data");
  });

  test("mounts and files from before a crash stop working, as their process died", async () => {
    const { disk, fs } = await diskWithDir();
    const file = await fs.create("/d/f");
    disk.crash();
    await assert.rejects(file.write(bytes("x"), 0), /crashed/);
    await assert.rejects(fs.create("/d/g"), /crashed/);
  });

  test("with torn writes, a crash keeps a prefix of the unsynced writes, in order", async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const { disk, fs } = await diskWithDir(new SimDisk({ seed, tornWrites: true }));
      const file = await fs.create("/d/f");
      await fs.syncDir("/d");
      await file.write(bytes("base|"), 0);
      await file.datasync();
      await file.write(bytes("first|"), 5);
      await file.write(bytes("second|"), 11);
      disk.crash();
      const kept = await text(disk.mount(), "/d/f");
      assert.ok("base|first|second|".startsWith(kept) && kept.startsWith("base|"), `kept ${JSON.stringify(kept)}`);
      seen.add(kept);
    }
    assert.ok(seen.size > 5, "crashes tear at different places");
  });
});
