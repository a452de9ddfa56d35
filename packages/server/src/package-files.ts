/**
 * Files this package reads at run time besides its code (the .proto files,
 * the dashboard's bundle). They are found through the package's own name,
 * not relative to the module asking: a member also runs from one bundled
 * file elsewhere (packages/cli's build-serve.mjs), and there the module's
 * own location says nothing about where this package lies.
 */
import { fileURLToPath } from "node:url";

/** `relative` (a folder ends with "/") inside this package's folder. */
export function packagePath(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.resolve("@raftkv/server/package.json")));
}
