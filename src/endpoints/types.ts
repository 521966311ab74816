// Shim: the link contract moved to src/core/ (the lead rewrites the imports, then deletes this file).
export * from '../core/link.js';
export * from '../core/endpoint.js';
