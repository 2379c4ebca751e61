// Exit codes of the atoll program; scripts may rely on them.
export const exitCodes = Object.freeze({
  ok: 0,
  // Bad command line or configuration.
  usage: 1,
  notFound: 2,
  // A check found problems (atoll config check): the same number as notFound.
  problemsFound: 2,
  // A port taken, a data directory locked, a peer unreachable.
  unavailable: 3,
  // A bug: an assertion failed or something unexpected was thrown.
  internal: 70,
});
