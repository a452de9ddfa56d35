/**
 * etcd's Watch service: one bidirectional stream carries many watches. Ids
 * are the client's, or the lowest free one from 0 up, as etcd assigns them.
 * A watch's first message says it was created; updates it produced
 * meanwhile (history) follow. Each create is checked as its caller may
 * watch when it arrives (etcd reads the stream's token again for every
 * create): one the caller may not open is created and canceled at once.
 * A watch created with `fragment` gets a revision whose events exceed the
 * request limit (--max-request-bytes) in parts, as etcd sends it, so that
 * clients with a message limit (grpc-go's and grpc-js's 4 MiB) can take it.
 * The stream's watches of one interest share its delivery (`shared` in the
 * watch request): once live, a put's events reach all of them in one call,
 * and each adds its id to the response they share in the outbox.
 */
import type * as grpc from "@grpc/grpc-js";
import { GrpcCode, RaftkvError } from "../errors.js";
import type { Event, KvApi, ResponseHeader, SharedDelivery, Watch, WatchUpdate } from "../kv/api.js";
import { MAX_REQUEST_BYTES } from "../recipes/kv.js";
import { admitStream, failStream, type Admission } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import { batchWriterOf, type BatchWriter } from "./send-together.js";
import type { CallScope, GrpcServices } from "./services.js";
import { encodeFramedWatchResponses, encodeWatchResponse, messagesOf, type Outgoing, type WatchMessage } from "./watch-encoding.js";
import { Recipient, WatchOutbox } from "./watch-outbox.js";

type Handlers = grpc.UntypedServiceImplementation;
type WatchCall = grpc.ServerDuplexStream<Decoded, unknown>;
/** The encoded size of a WatchResponse, in bytes. */
export type MessageSize<Message> = (message: Message) => number;

/** The id etcd's progress responses and refused creates carry: they belong to no watch. */
const NO_WATCH_ID = -1;

/** Responses go out through encodeWatchResponse (watch-encoding.ts), which server.ts makes the method's serializer. */
export function watchService({ admit }: GrpcServices): Handlers {
  return {
    Watch: async (call: WatchCall) => {
      const opened = await admitStream(call, admit);
      if (opened) new WatchStream(call, admit, opened.kv).serve();
    },
  };
}

/** A watch of the stream: what the kv layer made, and how the outbox knows it. */
interface StreamWatch {
  readonly watch: Watch;
  readonly recipient: Recipient;
}

/** A watch as its stream's outbox knows it, and what it was handed before the stream said it was created. */
class StreamMember extends Recipient {
  /** Updates waiting for the created response; undefined once it has gone. */
  early: WatchUpdate[] | undefined = [];
}

/**
 * The delivery a stream's watches share (one for watches that asked for
 * fragments, one for the others); the kv layer groups them by interest on
 * it, so that a put to a key a thousand of them watch is one call, each
 * watch's part of it an id in the response they share.
 */
class StreamDelivery implements SharedDelivery<StreamMember> {
  constructor(
    private readonly outbox: WatchOutbox,
    private readonly fragment: boolean,
  ) {}

  deliver(members: readonly StreamMember[], count: number, header: ResponseHeader, events: readonly Event[]): void {
    for (let i = 0; i < count; i++) {
      const member = members[i]!;
      if (member.early) member.early.push({ kind: "events", header, events });
      else this.outbox.addEvents(member, header, events, this.fragment);
    }
  }
}

class WatchStream {
  private readonly watches = new Map<number, StreamWatch>();
  private nextId = 0;
  /** Set when the stream ends: a create still under way then cancels the watch it made. */
  private stopped = false;
  /** Requests are handled one at a time, in the order they came. */
  private previous = Promise.resolve();
  private readonly outbox: WatchOutbox;
  private readonly delivery: StreamDelivery;
  private readonly deliveryInParts: StreamDelivery;

  constructor(
    private readonly call: WatchCall,
    private readonly admit: Admission<CallScope>,
    private readonly kv: Pick<KvApi, "header" | "watchProgressHeader">,
  ) {
    const writer = batchWriterOf<Outgoing>(call, encodeFramedWatchResponses);
    // Written a message at a time, each goes through the method's serializer, which takes one response.
    const write: BatchWriter<Outgoing> = writer.mode === "one write" ? writer.write : (items, done) => writer.write(items.flatMap(messagesOf), done);
    this.outbox = new WatchOutbox(write, (message) => fragmentsOf(message, MAX_REQUEST_BYTES, encodedSize));
    this.delivery = new StreamDelivery(this.outbox, false);
    this.deliveryInParts = new StreamDelivery(this.outbox, true);
  }

  serve(): void {
    if (this.call.cancelled) return;
    this.call.on("data", (m: Decoded) => {
      this.previous = this.previous.then(async () => this.handle(m)).catch((error: unknown) => failStream(this.call, error));
    });
    this.call.on("end", () => {
      this.stopAll();
      this.outbox.end();
      this.call.end();
    });
    const gone = (): void => {
      this.stopAll();
      this.outbox.close();
    };
    this.call.on("cancelled", gone);
    this.call.on("error", gone);
  }

  private async handle(m: Decoded): Promise<void> {
    if (m.request_union === "create_request") await this.create(m.create_request);
    else if (m.request_union === "cancel_request") this.cancel(m.cancel_request.watch_id);
    else if (m.request_union === "progress_request") this.send({ header: this.kv.watchProgressHeader(), watch_id: NO_WATCH_ID });
  }

  private async create(m: Decoded): Promise<void> {
    const id = this.idFor(m.watch_id);
    const existing = this.watches.get(id);
    if (existing) {
      this.send(
        {
          header: this.kv.header(),
          watch_id: id,
          created: true,
          canceled: true,
          cancel_reason: "mvcc: duplicate watch ID provided on the WatchStream",
        },
        existing.recipient,
      );
      return;
    }
    const fragment = m.fragment === true;
    const member = new StreamMember(id);
    const sendUpdate = (update: WatchUpdate): void => {
      if (update.kind === "events") return this.outbox.addEvents(member, update.header, update.events, fragment);
      // A compacted start ends the watch.
      if (update.kind === "compacted") this.watches.delete(id);
      this.send(encodeWatchUpdate(update, id), member);
    };
    const deliver = (update: WatchUpdate): void => {
      if (member.early) member.early.push(update);
      else sendUpdate(update);
    };
    let watch: Watch;
    try {
      const admitted = await this.admit(this.call);
      const shared = { delivery: fragment ? this.deliveryInParts : this.delivery, member };
      watch = await admitted.kv.watch({ ...codec.decodeWatchCreate(m), shared }, deliver);
    } catch (error) {
      this.send(this.refusal(error));
      return;
    }
    if (this.stopped) {
      watch.cancel();
      return;
    }
    this.watches.set(id, { watch, recipient: member });
    this.send({ header: this.kv.header(), watch_id: id, created: true });
    const early = member.early ?? [];
    member.early = undefined;
    for (const update of early) sendUpdate(update);
  }

  /** The client's id, or the lowest one free. */
  private idFor(asked: number): number {
    if (asked !== 0) return asked;
    while (this.watches.has(this.nextId)) this.nextId += 1;
    return this.nextId;
  }

  /**
   * A create refused, as etcd 3.4 answers it: created and canceled at once,
   * with no watch id, the refusal in Go's gRPC words as the cancel reason.
   */
  private refusal(error: unknown): WatchMessage {
    const refusal = error instanceof RaftkvError ? error : new RaftkvError(GrpcCode.Internal, String(error));
    const cancelReason = `rpc error: code = ${GrpcCode[refusal.grpcCode]} desc = ${refusal.message}`;
    return { header: this.kv.header(), watch_id: NO_WATCH_ID, created: true, canceled: true, cancel_reason: cancelReason };
  }

  private cancel(id: number): void {
    const known = this.watches.get(id);
    if (!known) return;
    known.watch.cancel();
    this.watches.delete(id);
    this.send({ header: this.kv.header(), watch_id: id, canceled: true }, known.recipient);
  }

  private stopAll(): void {
    this.stopped = true;
    for (const { watch } of this.watches.values()) watch.cancel();
    this.watches.clear();
  }

  /** `about`: the watch the message is for, whose waiting events take no more after it. */
  private send(message: WatchMessage, about?: Recipient): void {
    this.outbox.add(message, about);
  }
}

/** A progress or compacted update as etcd sends it; a compacted start revision cancels the watch. */
function encodeWatchUpdate(update: Exclude<WatchUpdate, { kind: "events" }>, id: number): WatchMessage {
  const common = { header: update.header, watch_id: id };
  return update.kind === "progress" ? common : { ...common, canceled: true, compact_revision: update.compactRevision };
}

const encodedSize = (message: WatchMessage): number => encodeWatchResponse(message).length;

/**
 * etcd's fragmenting: a response of `limit` bytes or more with two events
 * or more goes out in parts, each with as many events as keep it under the
 * limit (one at least, however large), every part but the last marked
 * `fragment`. Each event adds the same bytes to any message (its field tag,
 * length and body), so a part's size is the sum of its events' and the rest.
 */
export function fragmentsOf<Message extends { readonly events?: readonly unknown[]; readonly fragment?: boolean }>(
  message: Message,
  limit: number,
  sizeOf: MessageSize<Message>,
): Message[] {
  const events = message.events ?? [];
  if (events.length < 2 || sizeOf(message) < limit) return [message];
  const rest = sizeOf({ ...message, events: [], fragment: true });
  const withoutEvents = sizeOf({ ...message, events: [] });
  const parts: (typeof events)[number][][] = [[]];
  let size = rest;
  for (const event of events) {
    const eventSize = sizeOf({ ...message, events: [event] }) - withoutEvents;
    if (parts.at(-1)!.length > 0 && size + eventSize >= limit) {
      parts.push([]);
      size = rest;
    }
    parts.at(-1)!.push(event);
    size += eventSize;
  }
  return parts.map((part, i) => ({ ...message, events: part, fragment: i < parts.length - 1 }));
}
