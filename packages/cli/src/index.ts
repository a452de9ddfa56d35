export { run } from "./main.js";
export { makeCa, makeCertificate, type KeyPair } from "./local-cluster/certificates.js";
