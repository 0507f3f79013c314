// The user → connections index: one item per live connection of a verified user (several tabs or
// devices), so that toUser() is one paged Query on the user's partition, as a room is:
//   user connection  pk = "user#<userId>"   sk = <connectionId>   ttl
// connect() writes it beside the connection item, and the connection item names the user
// (`userId`), so a prune that reads the connection item finds this row as well.

export const userPartition = (userId: string) => `user#${userId}`;

export const userConnectionKey = (userId: string, connectionId: string) => ({ pk: userPartition(userId), sk: connectionId });

/** The longest user id the store keeps: an authorizer should deny a longer `sub` (403), not let $connect fail. */
export const maxUserIdLength = 256;

/** A user id is what the authorizer verified (a JWT `sub`): any non-empty string up to maxUserIdLength characters. */
export const checkUserId = (userId: unknown, what: string): string => {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > maxUserIdLength) {
    throw new TypeError(`${what} needs a user id (a non-empty string of at most ${maxUserIdLength} characters), got ${JSON.stringify(userId)}`);
  }
  return userId;
};
