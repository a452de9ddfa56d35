/** The versions this member reports: etcd's it speaks, and raftkv's own. */
export const VERSION = { etcdserver: "3.4.0", etcdcluster: "3.4.0", raftkv: "0.1.0" } as const;
