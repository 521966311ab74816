// Shim: the read pool moved to src/core/read-pool.ts (the lead rewrites the imports, then deletes this file).
export * from '../core/read-pool.js';
