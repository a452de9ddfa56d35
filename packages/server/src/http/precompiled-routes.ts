/**
 * The route schemas' code the build generated, for lazy-compilers.ts. Here,
 * none: the member's bundle replaces this module with the generated one
 * (packages/cli build-serve.mjs, from route-code.ts), and what runs
 * unbundled compiles each route on its first request.
 */
import type { PrecompiledRoutes } from "./lazy-compilers.js";

export const PRECOMPILED_ROUTES: PrecompiledRoutes | undefined = undefined;
