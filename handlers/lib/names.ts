// The names the chat shows as they are (display names, rooms): letters and digits of any script,
// plus _ . - ; no separators, quotes or markup. On its own (no imports) so the authorizer's bundle,
// which checks display names on the WebSocket handshake path, stays small.
export const safeName = /^[\p{L}\p{N}_.-]{1,64}$/u;

/** A display name the chat can show as it is: 1–64 letters, digits, `_`, `.` or `-`. */
export const isSafeName = (name: unknown): name is string => typeof name === 'string' && safeName.test(name);
