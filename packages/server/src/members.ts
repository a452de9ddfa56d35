/**
 * The cluster's members as the log describes them: names and URLs travel in
 * the context of each membership change, client URLs in a member's own
 * "publish" command once it runs. The registry is rewritten atomically on
 * every change so a restarted member knows its peers before it hears from them.
 */
import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";

export interface Member {
  readonly id: number;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** What a membership change's context carries. */
export interface MemberAttributes {
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
}

export function encodeAttributes(attributes: MemberAttributes): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(attributes));
}

export function decodeAttributes(bytes: Uint8Array | undefined): MemberAttributes {
  if (!bytes || bytes.byteLength === 0) return { name: "", peerUrls: [], clientUrls: [] };
  const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Partial<MemberAttributes>;
  return { name: parsed.name ?? "", peerUrls: parsed.peerUrls ?? [], clientUrls: parsed.clientUrls ?? [] };
}

export class MemberRegistry {
  private members = new Map<number, Member>();
  private removed = new Set<number>();
  private listeners = new Set<(members: readonly Member[]) => void>();

  private constructor(private readonly file: string) {}

  static async load(dataDir: string): Promise<MemberRegistry> {
    const registry = new MemberRegistry(join(dataDir, "members.json"));
    try {
      const saved = JSON.parse(await readFile(registry.file, "utf8")) as { members: Member[]; removed: number[] };
      for (const member of saved.members) registry.members.set(member.id, member);
      registry.removed = new Set(saved.removed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    return registry;
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  get(id: number): Member | undefined {
    return this.members.get(id);
  }

  byName(name: string): Member | undefined {
    return this.list().find((member) => member.name === name);
  }

  wasRemoved(id: number): boolean {
    return this.removed.has(id);
  }

  onChange(listener: (members: readonly Member[]) => void): void {
    this.listeners.add(listener);
  }

  async add(id: number, attributes: MemberAttributes, isLearner: boolean): Promise<void> {
    const known = this.members.get(id);
    this.members.set(id, { id, ...attributes, clientUrls: known?.clientUrls ?? attributes.clientUrls, isLearner });
    await this.changed();
  }

  async promote(id: number): Promise<void> {
    const member = this.members.get(id);
    if (!member) return;
    this.members.set(id, { ...member, isLearner: false });
    await this.changed();
  }

  /** Takes the membership a snapshot recorded. */
  async replaceAll(members: readonly Member[]): Promise<void> {
    this.members = new Map(members.map((member) => [member.id, member]));
    await this.changed();
  }

  async remove(id: number): Promise<void> {
    this.members.delete(id);
    this.removed.add(id);
    await this.changed();
  }

  async update(id: number, change: Partial<Pick<Member, "peerUrls" | "clientUrls" | "name">>): Promise<void> {
    const member = this.members.get(id);
    if (!member) return;
    this.members.set(id, { ...member, ...change });
    await this.changed();
  }

  private async changed(): Promise<void> {
    await this.save();
    const members = this.list();
    for (const listener of this.listeners) listener(members);
  }

  /** Write, fsync, rename: a crash leaves the old file or the new one, never half of one. */
  private async save(): Promise<void> {
    const temporary = `${this.file}.tmp`;
    const handle = await open(temporary, "w");
    try {
      await handle.writeFile(JSON.stringify({ members: this.list(), removed: [...this.removed] }, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.file);
  }
}
