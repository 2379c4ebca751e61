// Bounds of the configuration layer, units last.

/**
 * Rounds of "create LOCK, else inspect and maybe take over" before giving up. Each
 * round that fails to win sees a lock that changed hands meanwhile, which takes another
 * starter acting at the same moment; a few rounds cover any honest race.
 */
export const dataDirLockAttemptsMax = 5;

/** Processes looked at when finding the owner of a taken port (Linux /proc). */
export const portOwnerProcessesMax = 32_768;

/** Open files of one process looked at when finding a port's owner or its data dir. */
export const portOwnerFdsMax = 4_096;
