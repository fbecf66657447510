/** Graft's version, as package.json states it (tests/core check that they agree). Part of the tuning cache's identity. */
export const VERSION = '0.1.0';
