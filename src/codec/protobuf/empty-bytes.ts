/**
 * The default of every `bytes` field. Shared because it has no elements to mutate, so
 * decoding a message with absent bytes fields allocates nothing for them.
 */
export const emptyBytes: Uint8Array = new Uint8Array(0);
