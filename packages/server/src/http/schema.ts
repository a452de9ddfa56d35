/** JSON schema building blocks the HTTP APIs share: fastify validates bodies and queries by them and serializes replies. */
export type Schema = Readonly<Record<string, unknown>>;

export function object(properties: Record<string, Schema>, required: readonly string[] = []): Schema {
  return required.length === 0 ? { type: "object", properties } : { type: "object", properties, required };
}

export function listOf(items: Schema): Schema {
  return { type: "array", items };
}
