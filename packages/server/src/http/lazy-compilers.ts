/**
 * Route schemas compiled on a route's first request instead of at start-up.
 * Compiling every route's validator and serializer was the longest step of a
 * member's start-up (a few hundred milliseconds of one core on a busy
 * machine), and it held the event loop while the member's peers waited for
 * it to answer their handshakes. A route compiles in a millisecond or two
 * when first used. The compilers themselves are fastify's own (Ajv and
 * fast-json-stringify, the versions fastify depends on, imported directly so
 * that the member's bundle carries them), so validation and replies are
 * exactly what they were.
 */
import { AjvCompiler } from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import type { FastifyServerOptions } from "fastify";

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;

/** A compiled validator as fastify calls it: it reads `errors` and `schemaEnv` off the function. */
interface Validator {
  (data: unknown, context?: unknown): unknown;
  readonly errors?: unknown;
  readonly schemaEnv?: unknown;
}

type Compile<Compiled> = (route: unknown) => Compiled;
/** fastify's compilersFactory entries: from the shared schemas and options to a per-route compiler. */
type Builder<Compiled> = (externalSchemas: unknown, options: unknown) => Compile<Compiled>;

const ajvCompiler = AjvCompiler as unknown as () => Builder<Validator>;
const serializerCompiler = SerializerSelector as unknown as () => Builder<(data: unknown) => string>;

/** For `Fastify({ schemaController: { compilersFactory: lazyCompilers() } })`. */
export function lazyCompilers(): CompilersFactory {
  return {
    buildValidator: lazyBuilder(ajvCompiler(), lazyValidator),
    buildSerializer: lazyBuilder(serializerCompiler(), (compile) => (data) => compile()(data)),
  } as CompilersFactory;
}

/** The builder, and each route's compilation, run only when a route first needs them. */
function lazyBuilder<Compiled>(builder: Builder<Compiled>, defer: (compile: () => Compiled) => Compiled): Builder<Compiled> {
  return (externalSchemas, options) => {
    let compileRoute: Compile<Compiled> | undefined;
    return (route) => {
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
