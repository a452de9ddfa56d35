/**
 * Route schemas compiled on a route's first request instead of at start-up,
 * unless the build compiled them already. Compiling every route's validator
 * and serializer was the longest step of a member's start-up (a few hundred
 * milliseconds of one core on a busy machine), and it held the event loop
 * while the member's peers waited for it to answer their handshakes. A route
 * compiles in a millisecond or two when first used, but code made by
 * `new Function` at run time is compiled by V8 anew at every start, with
 * Ajv itself set up first: tens of milliseconds on a restarted member's first
 * read. So the member's bundle carries the code fastify's compilers make for
 * every route, generated when it is built (route-code.ts), and V8's code
 * cache keeps it; a schema the build did not see (tests, the unbundled
 * `raftkv serve`) is compiled lazily. The compilers are fastify's own (Ajv
 * and fast-json-stringify, the versions fastify depends on, imported
 * directly so that the member's bundle carries them), so validation and
 * replies are exactly what they were.
 */
import { AjvCompiler } from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import type { FastifyServerOptions } from "fastify";
import { PRECOMPILED_ROUTES } from "./precompiled-routes.js";

/** What compiles a fastify app's validators and serializers. */
export type SchemaCompilers = NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;

/** A compiled validator as fastify calls it: it reads `errors` and `schemaEnv` off the function. */
export interface Validator {
  (data: unknown, context?: unknown): unknown;
  readonly errors?: unknown;
  readonly schemaEnv?: unknown;
}
export type Serializer = (data: unknown) => string;

/** What fastify asks a compiler for: one part of one route (`httpPart` for validators, `httpStatus` for serializers). */
export interface RouteSchema {
  readonly schema: unknown;
  readonly method?: string;
  readonly url?: string;
}
type Compile<Compiled> = (route: RouteSchema) => Compiled;
/** fastify's compilersFactory entries: from the shared schemas and options to a per-route compiler. */
export type Builder<Compiled> = (externalSchemas: unknown, options: unknown) => Compile<Compiled>;

/** Code generated at build time, by the schema it was compiled from (`schemaKey`); each entry makes its function. */
export interface PrecompiledRoutes {
  readonly validators: ReadonlyMap<string, () => Validator>;
  readonly serializers: ReadonlyMap<string, () => Serializer>;
}

export const ajvCompiler = AjvCompiler as unknown as () => Builder<Validator>;
export const serializerCompiler = SerializerSelector as unknown as () => Builder<Serializer>;

/**
 * Which generated function serves a schema. The schema's own text: a route
 * whose schema changed after the build finds nothing and is compiled as
 * before, never given another schema's code.
 */
export function schemaKey(schema: unknown): string {
  return JSON.stringify(schema);
}

/** For `Fastify({ schemaController: { compilersFactory: lazyCompilers() } })`. */
export function lazyCompilers(precompiled: PrecompiledRoutes | undefined = PRECOMPILED_ROUTES): SchemaCompilers {
  return {
    buildValidator: lazyBuilder(ajvCompiler(), lazyValidator, precompiled?.validators),
    buildSerializer: lazyBuilder(serializerCompiler(), (compile) => (data) => compile()(data), precompiled?.serializers),
  } as SchemaCompilers;
}

/** The builder, and each route's compilation, run only when a route first needs them and the build made nothing for it. */
function lazyBuilder<Compiled>(
  builder: Builder<Compiled>,
  defer: (compile: () => Compiled) => Compiled,
  generated: ReadonlyMap<string, () => Compiled> | undefined,
): Builder<Compiled> {
  return (externalSchemas, options) => {
    let compileRoute: Compile<Compiled> | undefined;
    return (route) => {
      const make = generated?.get(schemaKey(route.schema));
      if (make) return make();
      let compiled: Compiled | undefined;
      return defer(() => {
        compileRoute ??= builder(externalSchemas, options);
        compiled ??= compileRoute(route);
        return compiled;
      });
    };
  };
}

/** fastify reads `schemaEnv` before each validation: the first read compiles, so the validator is whole from its first call. */
function lazyValidator(compile: () => Validator): Validator {
  const validate = (data: unknown, context?: unknown) => compile()(data, context);
  Object.defineProperties(validate, {
    errors: { get: () => compile().errors },
    schemaEnv: { get: () => compile().schemaEnv },
  });
  return validate as Validator;
}
