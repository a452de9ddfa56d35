/**
 * The Node.js flags a member process starts with, for every launcher to put
 * before the CLI's entry (`node ...MEMBER_NODE_FLAGS raftkv.js serve ...`).
 * V8 reads them when it starts, so a member cannot set them on itself.
 *
 * `--max-semi-space-size=8`: V8's young generation is two semi-spaces of up
 * to 16 MiB each, and a member under load commits all 32 MiB; at 8 it
 * commits 16. Measured (bench/README.md, "The account under load"): the same
 * fixed work (70,000 entries, then 30,000 ranges) left the largest member at
 * 181 and 178 MiB against 201 and 198, the old generation the same size
 * (50 MiB: objects were not promoted instead), for 4 to 8 % more CPU over
 * the run (more scavenges). At 4 MiB the leader grew instead: its request
 * objects outlived the scavenges and were promoted.
 */
export const MEMBER_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=8"];
