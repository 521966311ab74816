// Shim: roles and the keyboard state moved to src/core/roles.ts, the users file and proxy names to src/web/users.ts, doorOptions to src/endpoints/hub-options.ts (the lead rewrites the imports, then deletes this file).
export { describeKeyboard, type KeyboardState, type Role } from '../core/roles.js';
export { normalAddress, parseTrustProxy, parseUsers, proxyUser, UsersFile, type User } from '../web/users.js';
export { doorOptions } from '../endpoints/hub-options.js';
