/**
 * Field names as proto3 JSON reads them: a field is accepted under its proto
 * name (`range_end`) or its JSON name (`rangeEnd`), in every message and
 * every nested one; when a body has both, the JSON name wins, as etcd's
 * gateway (golang/protobuf's jsonpb) decides. Fields the message does not
 * have are left alone: the decoders never read them, so they are ignored, as
 * etcd ignores them.
 *
 * The route schemas name every field by its proto name, so they drive the
 * mapping: a body is rewritten to proto names before it is validated and
 * decoded, and nothing downstream knows a JSON name.
 */
import type { Schema } from "../schema.js";

/** Rewrites a body's JSON names to proto names; returns the body itself when nothing needs renaming. */
export type ToProtoNames = (body: unknown) => unknown;

/** protoc's JSON name of a field: each underscore dropped and the letter after it capitalized (`prev_kv` → `prevKv`, `ID` stays). */
export function jsonNameOf(protoName: string): string {
  return protoName.replace(/_+(.?)/g, (_match, next: string) => next.toUpperCase());
}

/**
 * The mapping for bodies of `schema`. `schemasById` resolves `$ref`s (the
 * txn request refers to itself); a referenced schema's mapping is compiled
 * once, on first use.
 */
export function protoNamesFor(schema: Schema, schemasById: ReadonlyMap<string, Schema>): ToProtoNames {
  const compiled = new Map<string, ToProtoNames>();
  const compile = (node: Schema): ToProtoNames | undefined => {
    if (typeof node.$ref === "string") {
      const id = node.$ref.replace(/#$/, "");
      return (body) => {
        let mapping = compiled.get(id);
        if (mapping === undefined) {
          const target = schemasById.get(id);
          if (target === undefined) throw new Error(`no schema registered as ${id}`);
          mapping = compile(target) ?? ((unchanged) => unchanged);
          compiled.set(id, mapping);
        }
        return mapping(body);
      };
    }
    if (node.type === "array") {
      const items = compile(node.items as Schema);
      return items && ((body) => (Array.isArray(body) ? body.map(items) : body));
    }
    if (node.type === "object" && node.properties) return compileObject(node.properties as Record<string, Schema>, compile);
    return undefined;
  };
  return compile(schema) ?? ((body) => body);
}

interface FieldMapping {
  readonly protoName: string;
  /** Undefined when the JSON name is the proto name. */
  readonly jsonName: string | undefined;
  /** Undefined for scalars. */
  readonly nested: ToProtoNames | undefined;
}

function compileObject(properties: Record<string, Schema>, compile: (node: Schema) => ToProtoNames | undefined): ToProtoNames | undefined {
  const fields: FieldMapping[] = Object.entries(properties).map(([protoName, property]) => {
    const jsonName = jsonNameOf(protoName);
    return { protoName, jsonName: jsonName === protoName ? undefined : jsonName, nested: compile(property) };
  });
  if (fields.every((field) => field.jsonName === undefined && field.nested === undefined)) return undefined;
  return (body) => {
    if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
    const source = body as Record<string, unknown>;
    let mapped: Record<string, unknown> | undefined;
    for (const { protoName, jsonName, nested } of fields) {
      const renamed = jsonName !== undefined && Object.hasOwn(source, jsonName);
      const value = renamed ? source[jsonName] : source[protoName];
      const mappedValue = nested && value !== undefined && value !== null ? nested(value) : value;
      if (!renamed && mappedValue === value) continue;
      mapped ??= { ...source };
      if (renamed) delete mapped[jsonName];
      mapped[protoName] = mappedValue;
    }
    return mapped ?? body;
  };
}
