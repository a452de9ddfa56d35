/**
 * The cluster's members as the log describes them: names and URLs travel in
 * the context of each membership change, client URLs in a member's own
 * "publish" command once it runs. The registry is rewritten atomically on
 * every change so a restarted member knows its peers before it hears from them.
 */
import { join } from "node:path";
import type { Member } from "@raftkv/client";
import { readJsonIfExists, writeJsonDurably } from "./durable-file.js";

/** A member as the client sees it too: one declaration, in the client package. */
export type { Member };

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

interface SavedRegistry {
  readonly members: readonly Member[];
  readonly removed: readonly number[];
}

export class MemberRegistry {
  private members = new Map<number, Member>();
  private removed = new Set<number>();
  private listeners = new Set<(members: readonly Member[]) => void>();
  private removalListeners = new Set<(id: number) => void>();

  private constructor(private readonly file: string) {}

  static async load(dataDir: string): Promise<MemberRegistry> {
    const registry = new MemberRegistry(join(dataDir, "members.json"));
    const saved = await readJsonIfExists<SavedRegistry>(registry.file);
    for (const member of saved?.members ?? []) registry.members.set(member.id, member);
    registry.removed = new Set(saved?.removed);
    return registry;
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  get(id: number): Member | undefined {
    return this.members.get(id);
  }

  wasRemoved(id: number): boolean {
    return this.removed.has(id);
  }

  onChange(listener: (members: readonly Member[]) => void): void {
    this.listeners.add(listener);
  }

  /** Called when a removal is applied (not when a snapshot is taken in: see replaceAll). */
  onRemoved(listener: (id: number) => void): void {
    this.removalListeners.add(listener);
  }

  async add(id: number, attributes: MemberAttributes, isLearner: boolean): Promise<void> {
    const known = this.members.get(id);
    this.members.set(id, { id, ...attributes, clientUrls: known?.clientUrls ?? attributes.clientUrls, isLearner });
    // Ids come from peer URLs: a member added again at a removed member's URL takes its id back.
    this.removed.delete(id);
    await this.changed();
  }

  async promote(id: number): Promise<void> {
    const member = this.members.get(id);
    if (!member) return;
    this.members.set(id, { ...member, isLearner: false });
    await this.changed();
  }

  /**
   * Takes the membership a snapshot recorded. Removals are not in snapshots:
   * a member that joined later refuses a removed one as unknown, which is as
   * harmless, and a snapshot can never make this member believe it was removed.
   */
  async replaceAll(members: readonly Member[]): Promise<void> {
    this.members = new Map(members.map((member) => [member.id, member]));
    await this.changed();
  }

  async remove(id: number): Promise<void> {
    this.members.delete(id);
    this.removed.add(id);
    await this.changed();
    for (const listener of this.removalListeners) listener(id);
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

  private async save(): Promise<void> {
    await writeJsonDurably(this.file, { members: this.list(), removed: [...this.removed] } satisfies SavedRegistry);
  }
}
